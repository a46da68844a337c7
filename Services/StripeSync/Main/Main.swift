import ArgumentParser
import ServiceKit
import StripeSync

/// `stripe-sync serve` (API and `SYNC_WORKERS` workers), `stripe-sync worker` (workers only), `stripe-sync migrate`.
@main
struct StripeSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stripe-sync",
        abstract: "Revmesh stripe-sync",
        subcommands: [ServiceCommand<StripeSyncService>.Serve.self, Worker.self, ServiceCommand<StripeSyncService>.Migrate.self],
        defaultSubcommand: ServiceCommand<StripeSyncService>.Serve.self
    )

    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run sync workers only (at least one); the probes stay for health checks.")

        func run() async throws {
            let configuration = try loadConfiguration(StripeSyncService.self, serving: true)
            var settings: SyncSettings
            do {
                settings = try SyncSettings.load(from: configuration.environment, internalSecret: configuration.internalSecret)
            } catch let error as ConfigurationError {
                exitWithConfigurationError(error)
            }
            settings.workers = max(settings.workers, 1)
            settings.serveAPI = false
            try await StripeSyncService.buildApplication(configuration, settings: settings).runService()
        }
    }
}
