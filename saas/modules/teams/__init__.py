"""Sales teams: membership, round-robin lead assignment, record visibility by team."""
