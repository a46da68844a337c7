import ServiceKit

/// insights-usage's own variables, read and checked at start.
public struct UsageSettings: Sendable {
    public var billingURL: String
    /// How long a user's plan, read from billing-webhooks, is reused.
    public var accountCacheTTL: Duration = .seconds(30)

    public init(billingURL: String) {
        self.billingURL = billingURL
    }

    public static func load(from environment: EnvironmentReader) throws -> UsageSettings {
        var settings = UsageSettings(billingURL: try environment.url("BILLING_WEBHOOKS_URL", default: "http://127.0.0.1:8101"))
        settings.accountCacheTTL = .seconds(try environment.integer("ACCOUNT_CACHE_SECONDS", default: 30, in: 0...600))
        return settings
    }
}
