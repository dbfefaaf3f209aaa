//! CloudWatch PutMetricData sink (in progress).
