"""Analytics: the maths of customer metrics (docs/metrics.md). Pure numpy/scipy, no I/O.

- summary.py: purchases -> per-customer (x, t_x, T, m_x) as of an observation end
- bgnbd.py: BG/NBD purchase model: fit, P(alive), expected purchases
- gamma_gamma.py: Gamma-Gamma spend model: fit, expected average order value
- clv.py: discounted predictive CLV from the two
- mle.py: the shared maximum-likelihood driver and what "converged" means
- errors.py: NotEnoughData, FitDidNotConverge
"""
