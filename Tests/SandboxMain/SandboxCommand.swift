import Hummingbird
import Sandbox
import ServiceKit

/// `sandbox`: the fakes of Stripe and the other outside systems, for `make run` and manual testing.
@main
struct SandboxCommand {
    static func main() async throws {
        let settings: SandboxSettings
        do {
            settings = try SandboxSettings.load(from: EnvironmentReader())
        } catch let error as ConfigurationError {
            exitWithConfigurationError(error)
        }
        bootstrapLogging(level: settings.logLevel)
        try await Sandbox(settings).application().runService()
    }
}
