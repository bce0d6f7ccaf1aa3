"""The orderly queue of a first-come opening (issue 21, part 3).

An event with ``admit_rate`` set lets at most that many runners a second through to its
registration form. Each arrival gets a slot time from one atomic step in Redis (shared by
every app instance): the first free slot at or after now, the next one ``1/rate`` later.
A slot already due is admitted at once; a later one gets a signed ticket and a light page
that refreshes itself until the slot comes, then a signed admission the form checks.
Waiting costs no Redis or database read: the ticket holds all the page shows. Without
Redis (``REDIS_URL`` unset) there is no queue, and when Redis fails mid-rush runners go
straight to the form (logged): nobody gets an error page for the queue's sake.
"""
