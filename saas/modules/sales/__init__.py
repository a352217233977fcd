"""Products and price lists; quotes with line items that become orders; returns."""
