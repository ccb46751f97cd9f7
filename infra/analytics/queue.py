"""Names shared by the code that queues analytics jobs and the worker that runs them."""

ANALYTICS_QUEUE = "analytics"
RECOMPUTE_TASK = "kizuna.analytics_recompute"
CLV_FIT_TASK = "kizuna.analytics_clv_fit"
NIGHTLY_TASK = "kizuna.analytics_nightly"
REFRESH_TASK = "kizuna.analytics_refresh_customer"
