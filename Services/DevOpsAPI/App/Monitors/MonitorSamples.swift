import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The SQL of metric samples: hourly buckets upserted (a repeated collection rewrites a bucket, never adds to it),
/// daily rollups recomputed from them for the days a collection touched, and both read back for charts.
enum MonitorSamples {
    /// Collections bucket by hour as they store, so the hourly samples are the rollup the raw readings would make:
    /// they are kept 13 months, the daily rollups for good, and the raw record of each check 30 days.
    static let hourlyRetentionMonths = 13
    static let checkRunRetentionDays = 30

    static func store(_ samples: [MetricSample], for integration: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let dimensions = try samples.map { String(decoding: try encoder.encode($0.dimensions), as: UTF8.self) }
        let days = Array(Set(samples.map { Self.day($0.bucketStart) }))
        try await connection.query(
            """
            INSERT INTO devops.metric_samples (integration_id, metric, dimensions, bucket_start, kind, value)
            SELECT \(integration), metric, dimensions::jsonb, bucket_start, kind, value::numeric
            FROM unnest(\(samples.map(\.metric))::text[], \(dimensions)::text[], \(samples.map(\.bucketStart))::timestamptz[],
                \(samples.map(\.kind.rawValue))::text[], \(samples.map { "\($0.value)" })::text[]) AS s(metric, dimensions, bucket_start, kind, value)
            ON CONFLICT (integration_id, metric, bucket_start, dimensions)
                DO UPDATE SET value = excluded.value, kind = excluded.kind, collected_at = now()
            """,
            logger: logger
        )
        try await connection.query(
            """
            INSERT INTO devops.metric_daily (integration_id, metric, dimensions, day, kind, value)
            SELECT integration_id, metric, dimensions, (bucket_start AT TIME ZONE 'UTC')::date, kind,
                CASE WHEN kind = 'counter' THEN sum(value) ELSE avg(value) END
            FROM devops.metric_samples
            WHERE integration_id = \(integration) AND (bucket_start AT TIME ZONE 'UTC')::date = ANY(\(days)::date[])
            GROUP BY integration_id, metric, dimensions, (bucket_start AT TIME ZONE 'UTC')::date, kind
            ON CONFLICT (integration_id, metric, day, dimensions) DO UPDATE SET value = excluded.value, kind = excluded.kind
            """,
            logger: logger
        )
    }

    /// Drops hourly samples past 13 months and check runs past 30 days. Safe on every replica.
    static func prune(postgres: PostgresClient, logger: Logger) async throws {
        try await postgres.query(
            "DELETE FROM devops.metric_samples WHERE bucket_start < now() - make_interval(months => \(hourlyRetentionMonths)::int)",
            logger: logger
        )
        try await postgres.query(
            "DELETE FROM devops.check_runs WHERE started_at < now() - make_interval(days => \(checkRunRetentionDays)::int)",
            logger: logger
        )
    }

    struct Point: Codable, Equatable, Sendable {
        var bucketStart: Date
        var dimensions: [String: String]
        var value: Decimal

        enum CodingKeys: String, CodingKey {
            case dimensions, value
            case bucketStart = "bucket_start"
        }
    }

    /// One metric's points in `[from, to)`, per hour from the samples or per UTC day from the rollups.
    static func points(
        integration: UUID,
        metric: String,
        from: Date,
        to: Date,
        daily: Bool,
        postgres: PostgresClient,
        logger: Logger
    ) async throws -> [Point] {
        let query: PostgresQuery =
            daily
            ? """
            SELECT day::timestamp AT TIME ZONE 'UTC', dimensions::text, value::text FROM devops.metric_daily
            WHERE integration_id = \(integration) AND metric = \(metric) AND day >= \(Self.day(from))::date
                AND day::timestamp AT TIME ZONE 'UTC' < \(to)
            ORDER BY day, dimensions::text LIMIT 20000
            """
            : """
            SELECT bucket_start, dimensions::text, value::text FROM devops.metric_samples
            WHERE integration_id = \(integration) AND metric = \(metric) AND bucket_start >= \(from) AND bucket_start < \(to)
            ORDER BY bucket_start, dimensions::text LIMIT 20000
            """
        var points: [Point] = []
        for try await (bucket, dimensions, value) in try await postgres.query(query, logger: logger).decode((Date, String, String).self) {
            points.append(
                Point(
                    bucketStart: bucket,
                    dimensions: (try? JSONDecoder().decode([String: String].self, from: Data(dimensions.utf8))) ?? [:],
                    value: Decimal(string: value, locale: Locale(identifier: "en_US_POSIX")) ?? 0
                )
            )
        }
        return points
    }

    static func day(_ date: Date) -> String { date.utcDayLabel }
}
