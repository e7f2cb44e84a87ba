"""QC filters: one module each, registered in one table (collector.qc.chain.FILTERS).

A filter's ``check(frame, at, state, context)`` flags readings ``at`` of the frame and returns
the ones that go on through the chain (all of them, except for ``order``, which takes late
points out of the stateful checks). ``remember`` updates the filter's memory once every filter
has flagged a round.
"""
