import Foundation
import Logging
import PostgresNIO
import Prometheus
import RevenueMath
import ServiceKit
import ServiceLifecycle

/// Brings the metrics of connections that Connect webhooks changed up to date: woken by `NOTIFY`, it takes a marked
/// connection (`FOR UPDATE SKIP LOCKED`, with a lease, so replicas never refresh one connection at once) and recomputes
/// only the days from the earliest change on. A connection is refreshed at most once per `settle`, so a burst of
/// events for one account costs one refresh per `settle` while it lasts, however many events it holds.
final class MetricsRefresher: Service, Sendable {
    let postgres: PostgresClient
    let logger: Logger
    let metrics: HTTPMetrics
    let settle: Duration
    let lease: Duration

    static let defaultSettle: Duration = .milliseconds(200)

    init(postgres: PostgresClient, logger: Logger, metrics: HTTPMetrics, settle: Duration = defaultSettle, lease: Duration = .seconds(120)) {
        self.postgres = postgres
        self.logger = logger
        self.metrics = metrics
        self.settle = settle
        self.lease = lease
    }

    static var refreshes: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "sync_metrics_refreshes",
            unitName: "total",
            helpText: "Recomputations of a connection's recent metrics after Connect webhooks changed its cache"
        )
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.postgres.withConnection { connection in
                        try await connection.listen(on: WebhookQueries.dirtyChannel) { notifications in
                            // Marks made while nobody listened first, then one pass per wake-up.
                            try await self.refreshMarked()
                            for try await _ in notifications { try await self.refreshMarked() }
                        }
                    }
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    self.logger.error("metrics refresher lost its connection", metadata: ["error": .string(String(reflecting: error))])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Refreshes every marked connection that is due, waiting out the settling time of those that are not yet.
    func refreshMarked() async throws {
        while true {
            if let claimed = try await claim() {
                await refresh(claimed)
                continue
            }
            guard let wait = try await untilNextDue() else { return }
            try await Task.sleep(for: wait)
        }
    }

    struct Claimed {
        var id: UUID
        var account: String
        var from: Int
    }

    /// A connection is due `settle` after its first mark and `settle` after its last refresh began, so one
    /// connection is refreshed at most once per `settle` however its events arrive.
    func claim() async throws -> Claimed? {
        let rows = try await postgres.query(
            """
            WITH due AS (
                SELECT id, metrics_dirty_from FROM sync.stripe_connections
                WHERE active AND greatest(metrics_dirty_at, metrics_refreshed_at) <= clock_timestamp() - make_interval(secs => \(settle.inSeconds))
                    AND (metrics_refreshing_until IS NULL OR metrics_refreshing_until < clock_timestamp())
                ORDER BY metrics_dirty_at LIMIT 1 FOR UPDATE SKIP LOCKED
            )
            UPDATE sync.stripe_connections c SET metrics_dirty_from = NULL, metrics_dirty_at = NULL, metrics_refreshed_at = clock_timestamp(),
                metrics_refreshes = metrics_refreshes + 1,
                metrics_refreshing_until = clock_timestamp() + make_interval(secs => \(lease.inSeconds))
            FROM due WHERE c.id = due.id
            RETURNING c.id, c.stripe_account_id, due.metrics_dirty_from
            """,
            logger: logger
        )
        for try await (id, account, from) in rows.decode((UUID, String, Int?).self) {
            return Claimed(id: id, account: account, from: from ?? Int(Date().timeIntervalSince1970))
        }
        return nil
    }

    /// How long until the earliest marked connection nobody is refreshing is due; nil when there is none.
    func untilNextDue() async throws -> Duration? {
        for try await seconds in try await postgres.query(
            """
            SELECT greatest(extract(epoch FROM
                min(greatest(metrics_dirty_at, metrics_refreshed_at)) + make_interval(secs => \(settle.inSeconds)) - clock_timestamp()), 0)::float8
            FROM sync.stripe_connections
            WHERE active AND metrics_dirty_at IS NOT NULL AND (metrics_refreshing_until IS NULL OR metrics_refreshing_until < clock_timestamp())
            HAVING min(metrics_dirty_at) IS NOT NULL
            """,
            logger: logger
        ).decode(Double.self) { return .milliseconds(Int(seconds * 1_000) + 1) }
        return nil
    }

    func refresh(_ claimed: Claimed) async {
        var logger = self.logger
        logger[metadataKey: "connection_id"] = .string(claimed.id.uuidString)
        let now = Date()
        let first = RevenueMath.calendarDays(endingWith: Date(timeIntervalSince1970: TimeInterval(claimed.from)), count: 1)[0]
        let days = Int(now.timeIntervalSince(first) / 86_400) + 1
        do {
            try await SnapshotBuilder.rebuild(
                connectionID: claimed.id,
                account: claimed.account,
                postgres: postgres,
                logger: logger,
                metrics: metrics,
                today: now,
                days: days
            )
            metrics.registry.makeCounter(descriptor: Self.refreshes).increment()
            logger.info("metrics refreshed after webhooks", metadata: ["days": "\(min(days, SnapshotBuilder.historyDays))"])
        } catch {
            // Not marked again, which would retry a lasting fault without end: the next sync's full rebuild catches up.
            logger.error("metrics refresh failed", metadata: ["error": .string(String(reflecting: error))])
        }
        _ = try? await postgres.query(
            "UPDATE sync.stripe_connections SET metrics_refreshing_until = NULL WHERE id = \(claimed.id)",
            logger: logger
        )
    }
}
