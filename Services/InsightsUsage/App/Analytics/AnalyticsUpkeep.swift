import Logging
import ServiceLifecycle

/// Every minute rebuilds the stale days' rollups; about hourly drops analytics partitions older than
/// `ANALYTICS_RETENTION_DAYS` and forgets old event ids and salts. On every replica: rollups are claimed day by day,
/// and dropping or forgetting twice is nothing.
struct AnalyticsUpkeep: Service {
    let queries: AnalyticsQueries
    let retentionDays: Int
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var minutes = 0
            while !Task.isCancelled {
                do {
                    try await queries.refreshRollups(retentionDays: retentionDays, logger: logger)
                    if minutes % 60 == 0 { try await retain() }
                } catch {
                    logger.warning("analytics upkeep failed", metadata: ["error": .string(String(reflecting: error))])
                }
                minutes += 1
                try? await Task.sleep(for: .seconds(60))
            }
        }
    }

    private func retain() async throws {
        try await queries.forgetOldEventIDs(logger: logger)
        try await queries.forgetOldSalts(logger: logger)
        let dropped = try await queries.dropPartitions(olderThan: retentionDays, logger: logger)
        if !dropped.isEmpty { logger.info("dropped analytics partitions past retention", metadata: ["partitions": "\(dropped)"]) }
    }
}
