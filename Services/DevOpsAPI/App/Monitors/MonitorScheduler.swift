import Foundation
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle

/// Polls every integration at its interval. Each worker leases the integration due longest (`FOR UPDATE SKIP
/// LOCKED`), so any number of devops-api replicas share the polling and none polls an integration another has; the
/// next check is scheduled as the result is recorded, so an integration is checked once per interval however many
/// replicas run. Old samples are pruned about hourly.
struct MonitorScheduler: Service {
    let runner: CheckRunner
    let workers: Int
    /// How often an idle worker looks for due integrations.
    let tick: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for _ in 0..<workers { group.addTask { await work() } }
                group.addTask { await prune() }
            }
        }
    }

    func work() async {
        while !Task.isCancelled {
            do {
                guard let claimed = try await runner.claimDue() else {
                    try await Task.sleep(for: tick)
                    continue
                }
                let result = await runner.run(claimed)
                if Task.isCancelled { return }  // The lease runs out and another replica checks it.
                try await runner.record(claimed, result)
            } catch is CancellationError {
                return
            } catch is CheckRunner.LeaseLost {
                runner.logger.warning("a check outlived its lease; another worker's result stands")
            } catch {
                runner.logger.error("monitor worker step failed", metadata: ["error": .string(String(reflecting: error))])
                try? await Task.sleep(for: tick)
            }
        }
    }

    func prune() async {
        while !Task.isCancelled {
            do {
                try await MonitorSamples.prune(postgres: runner.postgres, logger: runner.logger)
            } catch {
                runner.logger.warning("pruning monitor samples failed", metadata: ["error": .string(String(reflecting: error))])
            }
            try? await Task.sleep(for: .seconds(3_600))
        }
    }
}
