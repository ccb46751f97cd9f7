"""Marketing costs: what a tenant spent, by channel and/or campaign and period (CPO and ROMI read them)."""
