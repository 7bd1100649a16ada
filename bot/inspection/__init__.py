"""What an inspector runs: the audit log verified (chain, checkpoints, notes held outside), the
operative tables reconciled with it, every closed apel's figures recounted from it, bundles and
the inspector's report. Above the features: it reads every capability's tables."""
