"""Domain model of jobsvc: jobs, handlers, versions and errors; imports nothing of the other layers."""
