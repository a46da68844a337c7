import ServiceKit

/// insights-usage: AI insights, usage metering against tier limits and overage billing.
public enum InsightsUsageService: RevmeshService {
    public static let descriptor = ServiceDescriptor(name: "insights-usage", schema: "usage", defaultPort: 8103, migrations: [])

    public static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication {
        await buildServiceApplication(descriptor, configuration: configuration)
    }
}
