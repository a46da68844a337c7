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
}

/// Takes sync jobs from Postgres (`FOR UPDATE SKIP LOCKED`) and copies the connected account into the cache tables.
/// Its lease is renewed while it works, so a worker killed mid-job has its job taken again once the lease runs out.
final class SyncWorker: Service, Sendable {
    let postgres: PostgresClient
    let stripe: StripeClient
    let usage: UsageReporter
    let logger: Logger
    let workerID = "sync-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
    let lease: Duration
    let pollInterval: Duration
    let retry = RetryPolicy(maxRetries: 5, baseDelay: .seconds(30), maxDelay: .seconds(1_800))

    init(postgres: PostgresClient, stripe: StripeClient, usage: UsageReporter, logger: Logger, lease: Duration, pollInterval: Duration) {
        self.postgres = postgres
        self.stripe = stripe
        self.usage = usage
        self.logger = logger
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
            RETURNING j.id, j.connection_id, c.stripe_account_id, j.kind, j.attempts
            """,
            logger: logger
        )
        for try await (id, connection, account, kind, attempts) in rows.decode((UUID, UUID, String, String, Int).self) {
            return SyncJob(id: id, connectionID: connection, accountID: account, kind: kind, attempt: attempts)
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
            let counts = try await withThrowingTaskGroup(of: AccountSync.Counts?.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: self.lease / 3)
                        try await self.renew(job)
                    }
                }
                group.addTask { try await AccountSync(postgres: self.postgres, stripe: self.stripe, account: job.accountID, logger: logger).run() }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let counts = result { return counts }
                }
                throw CancellationError()
            }
            let copied = ContinuousClock.now
            try await SnapshotBuilder.rebuild(connectionID: job.connectionID, account: job.accountID, postgres: postgres, logger: logger)
            let rebuilt = ContinuousClock.now
            try await finish(job, error: nil)
            await usage.report(connectionID: job.connectionID, account: job.accountID, logger: logger)
            logger.info(
                "sync finished",
                metadata: [
                    "customers": "\(counts.customers)", "subscriptions": "\(counts.subscriptions)", "invoices": "\(counts.invoices)",
                    "charges": "\(counts.charges)", "copy_seconds": "\((copied - started).inSeconds)",
                    "snapshot_seconds": "\((rebuilt - copied).inSeconds)",
                ]
            )
        } catch is CancellationError {
            // Shutting down: the lease runs out and another worker takes the job.
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
    func finish(_ job: SyncJob, error: String?) async throws {
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
            try await connection.query(
                """
                UPDATE sync.stripe_connections SET sync_status = \(error == nil ? "synced" : (status == "failed" ? "failed" : "retrying")),
                    last_synced_at = CASE WHEN \(error == nil) THEN now() ELSE last_synced_at END, last_error = \(error), updated_at = now()
                WHERE id = \(job.connectionID)
                """,
                logger: logger
            )
        }
    }
}

/// Copies one connected account's customers, subscriptions (all statuses), invoices and charges into the cache,
/// a page at a time: the whole account is never held in memory.
struct AccountSync {
    let postgres: PostgresClient
    let stripe: StripeClient
    let account: String
    let logger: Logger

    struct Counts: Sendable, Equatable {
        var customers = 0
        var subscriptions = 0
        var invoices = 0
        var charges = 0
    }

    func run() async throws -> Counts? {
        var counts = Counts()
        for try await page in stripe.list("/v1/customers", account: account, of: Customer.self) {
            try await postgres.withConnection { try await CacheQueries.upsert(page, account: account, on: $0, logger: logger) }
            counts.customers += page.count
        }
        for try await page in stripe.list(
            "/v1/subscriptions",
            query: [("status", "all"), ("expand", ["data.discounts"])],
            account: account,
            of: Subscription.self
        ) {
            let complete = try await withEveryItem(page)
            try await postgres.withConnection { try await CacheQueries.upsert(complete, account: account, on: $0, logger: logger) }
            counts.subscriptions += page.count
        }
        for try await page in stripe.list("/v1/invoices", account: account, of: Invoice.self) {
            try await postgres.withConnection { try await CacheQueries.upsert(page, account: account, on: $0, logger: logger) }
            counts.invoices += page.count
        }
        for try await page in stripe.list("/v1/charges", query: [("expand", ["data.refunds"])], account: account, of: Charge.self) {
            try await postgres.withConnection { try await CacheQueries.upsert(page, account: account, on: $0, logger: logger) }
            counts.charges += page.count
        }
        return counts
    }

    /// Stripe embeds a subscription's first items only; the rest are paged from `/v1/subscription_items`.
    func withEveryItem(_ subscriptions: [Subscription]) async throws -> [Subscription] {
        var complete = subscriptions
        for index in complete.indices where complete[index].items.hasMore {
            var items: [SubscriptionItem] = []
            let pages = stripe.list(
                "/v1/subscription_items",
                query: [("subscription", .string(complete[index].id))],
                account: account,
                of: SubscriptionItem.self
            )
            for try await page in pages { items += page }
            complete[index].items = StripeList(data: items)
        }
        return complete
    }
}
