"""`make bench` / `python -m bench`: throughput, connection reuse, cold start, API at scale, end to
end and cost, each measured against its baseline in the same run (see design.md, "Performance goals").

Every phase talks to the Clickatell simulator and to moto over loopback, each in a process of its own
so neither shares the GIL with the code under test; the local stack of the end-to-end phase runs in a
process of its own too. `python -m bench --smoke` runs every phase with tiny sizes (for CI).
"""
