"""Agency identifier codes (QCVN 102:2016, Decision 20/2020) and their lifecycle:
registration, merges, renames, import and export."""
