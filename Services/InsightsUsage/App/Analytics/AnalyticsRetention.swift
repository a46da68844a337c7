import Logging
import ServiceLifecycle

/// Drops analytics partitions older than `ANALYTICS_RETENTION_DAYS` and forgets old event ids and salts, about hourly, on every replica (dropping one
/// twice is nothing).
struct AnalyticsRetention: Service {
    let queries: AnalyticsQueries
    let days: Int
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await queries.forgetOldEventIDs(logger: logger)
                    try await queries.forgetOldSalts(logger: logger)
                    let dropped = try await queries.dropPartitions(olderThan: days, logger: logger)
                    if !dropped.isEmpty { logger.info("dropped analytics partitions past retention", metadata: ["partitions": "\(dropped)"]) }
                } catch {
                    logger.warning("analytics retention failed", metadata: ["error": .string(String(reflecting: error))])
                }
                try? await Task.sleep(for: .seconds(3_600))
            }
        }
    }
}
