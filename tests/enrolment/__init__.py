"""On-site enrolment."""
