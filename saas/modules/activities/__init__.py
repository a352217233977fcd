"""Tasks, calls, meetings, e-mail logs and notes; reminders and the calendar."""
