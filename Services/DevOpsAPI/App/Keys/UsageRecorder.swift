import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Counts key and endpoint use in memory and writes the counts every few seconds (and at shutdown), so a busy
/// integration costs one write per interval, not one per request.
final class UsageRecorder: Service, Sendable {
    struct Pending {
        var keys: [UUID: (count: Int, last: Date)] = [:]
        var endpoints: [String: (count: Int, last: Date)] = [:]
    }

    let postgres: PostgresClient
    let interval: Duration
    let logger: Logger
    private let pending = Mutex(Pending())

    init(postgres: PostgresClient, interval: Duration, logger: Logger) {
        self.postgres = postgres
        self.interval = interval
        self.logger = logger
    }

    func record(keyID: UUID?, endpoint: String, at date: Date = Date()) {
        pending.withLock { pending in
            if let keyID { pending.keys[keyID, default: (0, date)].count += 1; pending.keys[keyID]!.last = date }
            pending.endpoints[endpoint, default: (0, date)].count += 1
            pending.endpoints[endpoint]!.last = date
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                await self.flush()
            }
        }
        // After a graceful shutdown Postgres is still up (it stops after this service); a cancelled task is being
        // torn down with Postgres, and a query on a stopped client would never return.
        if !Task.isCancelled { await flush() }
    }

    func flush() async {
        let batch = pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
        guard !batch.keys.isEmpty || !batch.endpoints.isEmpty else { return }
        do {
            try await postgres.withTransaction(logger: logger) { connection in
                for (id, usage) in batch.keys {
                    try await connection.query(
                        """
                        UPDATE devops.api_keys SET usage_count = usage_count + \(usage.count), last_used_at = GREATEST(COALESCE(last_used_at, \(usage.last)), \(usage.last))
                        WHERE id = \(id)
                        """,
                        logger: logger
                    )
                }
                for (endpoint, usage) in batch.endpoints {
                    try await connection.query(
                        """
                        INSERT INTO devops.endpoint_usage (endpoint, request_count, last_used_at) VALUES (\(endpoint), \(usage.count), \(usage.last))
                        ON CONFLICT (endpoint) DO UPDATE SET request_count = devops.endpoint_usage.request_count + EXCLUDED.request_count,
                            last_used_at = GREATEST(devops.endpoint_usage.last_used_at, EXCLUDED.last_used_at)
                        """,
                        logger: logger
                    )
                }
            }
        } catch {
            logger.error("usage counts could not be written", metadata: ["error": .string(String(reflecting: error))])
        }
    }
}
