import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import StripeKit

/// A sync job taken from the queue.
struct SyncJob: Sendable {
    var id: UUID
    var connectionID: UUID
    var accountID: String
    var kind: String
    var attempt: Int
    /// How far an earlier attempt got.
    var cursor: SyncCursor?
    /// The connection's newest event as of its last sync.
    var lastEvent: EventMark?
}

/// Takes sync jobs from Postgres (`FOR UPDATE SKIP LOCKED`) and copies the connected account into the cache tables.
/// Its lease is renewed while it works, so a worker killed mid-job has its job taken again once the lease runs out.
final class SyncWorker: Service, Sendable {
    let postgres: PostgresClient
    let stripe: StripeClient
    let usage: UsageReporter
    let logger: Logger
    let metrics: HTTPMetrics
    let workerID = "sync-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
    let lease: Duration
    let pollInterval: Duration
    let retry = RetryPolicy(maxRetries: 5, baseDelay: .seconds(30), maxDelay: .seconds(1_800))

    init(
        postgres: PostgresClient,
        stripe: StripeClient,
        usage: UsageReporter,
        logger: Logger,
        metrics: HTTPMetrics,
        lease: Duration,
        pollInterval: Duration
    ) {
        self.postgres = postgres
        self.stripe = stripe
        self.usage = usage
        self.logger = logger
        self.metrics = metrics
        self.lease = lease
        self.pollInterval = pollInterval
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    guard let job = try await self.claim() else {
                        try await Task.sleep(for: self.pollInterval)
                        continue
                    }
                    await self.work(job)
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("sync worker step failed", metadata: ["error": .string(String(reflecting: error))])
                    try? await Task.sleep(for: self.pollInterval)
                }
            }
        }
    }

    func claim() async throws -> SyncJob? {
        let rows = try await postgres.query(
            """
            UPDATE sync.sync_jobs j SET status = 'running', leased_by = \(workerID), lease_until = now() + make_interval(secs => \(lease.inSeconds)),
                attempts = attempts + 1
            FROM sync.stripe_connections c
            WHERE c.id = j.connection_id AND j.id = (
                SELECT id FROM sync.sync_jobs
                WHERE (status = 'queued' AND run_after <= now()) OR (status = 'running' AND lease_until < now())
                ORDER BY run_after LIMIT 1 FOR UPDATE SKIP LOCKED
            )
            RETURNING j.id, j.connection_id, c.stripe_account_id, j.kind, j.attempts, j.cursor::text, c.last_event_id, c.last_event_at
            """,
            logger: logger
        )
        for try await (id, connection, account, kind, attempts, cursor, lastEventID, lastEventAt) in rows.decode(
            (UUID, UUID, String, String, Int, String?, String?, Int?).self
        ) {
            return SyncJob(
                id: id,
                connectionID: connection,
                accountID: account,
                kind: kind,
                attempt: attempts,
                cursor: cursor.flatMap { try? JSONDecoder().decode(SyncCursor.self, from: Data($0.utf8)) },
                lastEvent: lastEventAt.map { EventMark(id: lastEventID, created: $0) }
            )
        }
        return nil
    }

    /// Runs the job while a side task renews its lease; records the outcome on the job and its connection.
    func work(_ job: SyncJob) async {
        let logger = {
            var logger = self.logger
            logger[metadataKey: "sync_job"] = .string(job.id.uuidString)
            return logger
        }()
        do {
            try await postgres.query(
                "UPDATE sync.stripe_connections SET sync_status = 'syncing', updated_at = now() WHERE id = \(job.connectionID)",
                logger: logger
            )
            let started = ContinuousClock.now
            let (counts, mark) = try await withThrowingTaskGroup(of: (AccountSync.Counts, EventMark)?.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: self.lease / 3)
                        try await self.renew(job)
                    }
                }
                group.addTask {
                    let sync = AccountSync(
                        postgres: self.postgres,
                        stripe: self.stripe,
                        account: job.accountID,
                        job: job.id,
                        worker: self.workerID,
                        logger: logger
                    )
                    return try await sync.run(kind: job.kind, cursor: job.cursor, lastEvent: job.lastEvent, now: Int(Date().timeIntervalSince1970))
                }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let counts = result { return counts }
                }
                throw CancellationError()
            }
            let copied = ContinuousClock.now
            try await SnapshotBuilder.rebuild(
                connectionID: job.connectionID,
                account: job.accountID,
                postgres: postgres,
                logger: logger,
                metrics: metrics
            )
            let rebuilt = ContinuousClock.now
            try await finish(job, error: nil, mark: mark)
            await usage.report(connectionID: job.connectionID, account: job.accountID, logger: logger)
            logger.info(
                "sync finished",
                metadata: [
                    "customers": "\(counts.customers)", "subscriptions": "\(counts.subscriptions)", "invoices": "\(counts.invoices)",
                    "charges": "\(counts.charges)", "incremental": "\(counts.incremental)", "copy_seconds": "\((copied - started).inSeconds)",
                    "snapshot_seconds": "\((rebuilt - copied).inSeconds)",
                ]
            )
        } catch is CancellationError {
            // Shutting down: the lease runs out and another worker takes the job.
        } catch is LeaseLost {
            logger.warning("another worker took the job over")
        } catch {
            // Cancelled mid-query the error may not be a CancellationError; the lease runs out either way.
            if Task.isCancelled { return }
            logger.warning("sync failed", metadata: ["error": .string(String(describing: error))])
            try? await finish(job, error: String(describing: error))
        }
    }

    func renew(_ job: SyncJob) async throws {
        try await postgres.query(
            "UPDATE sync.sync_jobs SET lease_until = now() + make_interval(secs => \(lease.inSeconds)) WHERE id = \(job.id) AND leased_by = \(workerID)",
            logger: logger
        )
    }

    /// Done, or back in the queue after a backoff, or failed for good when the attempts are spent.
    func finish(_ job: SyncJob, error: String?, mark: EventMark? = nil) async throws {
        let delay = job.attempt <= retry.maxRetries ? retry.delay(forRetry: job.attempt - 1, unitRandom: Double.random(in: 0.5...1)) : nil
        let status = error == nil ? "done" : (delay == nil ? "failed" : "queued")
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                UPDATE sync.sync_jobs SET status = \(status), last_error = \(error), leased_by = NULL, lease_until = NULL,
                    run_after = now() + make_interval(secs => \(delay?.inSeconds ?? 0)), finished_at = CASE WHEN \(status) IN ('done', 'failed') THEN now() END
                WHERE id = \(job.id) AND leased_by = \(workerID)
                """,
                logger: logger
            )
            let syncStatus = error == nil ? "synced" : (status == "failed" ? "failed" : "retrying")
            for try await owner in try await connection.query(
                """
                UPDATE sync.stripe_connections SET sync_status = \(syncStatus),
                    last_synced_at = CASE WHEN \(error == nil) THEN now() ELSE last_synced_at END, last_error = \(error), updated_at = now(),
                    last_event_id = CASE WHEN \(mark != nil) THEN \(mark?.id) ELSE last_event_id END,
                    last_event_at = coalesce(\(mark?.created), last_event_at)
                WHERE id = \(job.connectionID)
                RETURNING user_id
                """,
                logger: logger
            ).decode(String.self) {
                let update = ["connection_id": job.connectionID.uuidString, "status": syncStatus]
                try await StreamEvents.publish("sync_status", to: owner, payload: update, on: connection, logger: logger)
            }
        }
    }
}
