"""Pure functions of frames and latest values: status, baselines, anomalies, forecasts."""
