"""People: the identity (NIK) behind registrations in any number of cities."""
