"""The run harness: one skeleton for every task (run folder → splits → data → model under the strategy → fit →
evaluate → export → artifacts and report), and the run folder it writes, which is only ever its own.
"""
