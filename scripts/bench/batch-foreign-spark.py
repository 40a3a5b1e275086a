# The "article's PySpark job" phase of the foreign-logs benchmark (issue 14), run by
# scripts/bench/batch-foreign in PySpark's local mode: spark.read.json -> dropDuplicates(['event_id'])
# -> groupBy(window(timestamp, '1 hour'), endpoint) with aggregates equivalent to endpoint_hourly.
# The clock starts after the session is up (JVM startup excluded) and stops when the result is
# collected. Prints one JSON line: {"ms", "rows_out", "events", "spark"}.
import json
import os
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

lake = sys.argv[1]
threads = os.environ.get("BENCH_THREADS", "2")
spark = (
    SparkSession.builder.master(f"local[{threads}]")
    .appName("tandem-bench-foreign-logs")
    .config("spark.driver.memory", os.environ.get("BENCH_SPARK_DRIVER_MEMORY", "4g"))
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

started = time.perf_counter()
# The article reads with schema inference (one more pass over the files), as a first try would.
logs = spark.read.json(f"{lake}/logs/dt=*/hour=*/*.json.gz")
# Mixed encodings: inference makes `timestamp` a string; epoch-ms numbers come through as digits.
ts = F.col("timestamp").cast("string")
status = F.col("status_code").cast("int")
latency = F.col("response_time_ms").cast("double")
events = logs.select(
    F.col("event_id").cast("string").alias("event_id"),
    F.when(ts.rlike("^[0-9]+$"), F.expr("timestamp_millis(cast(`timestamp` as bigint))"))
    .otherwise(F.to_timestamp(ts))
    .alias("ts"),
    F.col("endpoint"),
    status.alias("status_code"),
    latency.alias("response_time_ms"),
    F.col("bytes_sent").cast("long").alias("bytes_sent"),
    F.col("user_id"),
).where(
    (F.col("event_id") != "")
    & (F.col("endpoint") != "")
    & F.col("status_code").between(100, 599)
    & (F.col("response_time_ms") >= 0)
    & F.col("ts").isNotNull()
)
ok = F.col("status_code").between(200, 299)
hourly = (
    events.dropDuplicates(["event_id"])
    .groupBy(F.window("ts", "1 hour"), "endpoint")
    .agg(
        F.count(F.lit(1)).alias("requests"),
        F.count(F.when(ok, 1)).alias("requests_2xx"),
        F.count(F.when(F.col("status_code").between(500, 599), 1)).alias("errors_5xx"),
        F.avg(F.when(ok, F.col("response_time_ms"))).alias("avg_latency_ms"),
        F.percentile_approx(F.when(ok, F.col("response_time_ms")), [0.5, 0.95, 0.99]).alias("latency"),
        F.avg("bytes_sent").alias("avg_response_bytes"),
        F.approx_count_distinct("user_id").alias("unique_users"),
    )
)
rows = hourly.collect()
ms = round((time.perf_counter() - started) * 1000)
print(
    json.dumps(
        {
            "ms": ms,
            "rows_out": len(rows),
            "events": sum(row["requests"] for row in rows),
            "spark": spark.version,
        }
    ),
    flush=True,
)
spark.stop()
