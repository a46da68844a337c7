import ServiceKit

/// insights-usage's own variables, read and checked at start.
public struct UsageSettings: Sendable {
    public var billingURL: String
    public var stripeSyncURL = "http://127.0.0.1:8102"
    /// The model that writes insight narratives; nil without `OPENAI_API_KEY` (the built-in engine writes them).
    var model: ModelSettings?
    /// How long a user's plan, read from billing-webhooks, is reused.
    public var accountCacheTTL: Duration = .seconds(30)
    var analytics = AnalyticsSettings()

    public init(billingURL: String) {
        self.billingURL = billingURL
    }

    public static func load(from environment: EnvironmentReader) throws -> UsageSettings {
        var settings = UsageSettings(billingURL: try environment.url("BILLING_WEBHOOKS_URL", default: "http://127.0.0.1:8101"))
        settings.accountCacheTTL = .seconds(try environment.integer("ACCOUNT_CACHE_SECONDS", default: 30, in: 0...600))
        settings.stripeSyncURL = try environment.url("STRIPE_SYNC_URL", default: settings.stripeSyncURL)
        settings.analytics = try AnalyticsSettings.load(from: environment)
        if let key = environment.optional("OPENAI_API_KEY") {
            var model = ModelSettings(apiKey: key)
            model.baseURL = try environment.url("OPENAI_BASE_URL", default: model.baseURL)
            model.model = environment.optional("OPENAI_MODEL") ?? model.model
            // Under the gateway's 60 s for this route, so a slow model still leaves time for the fallback.
            model.timeout = .seconds(try environment.integer("OPENAI_TIMEOUT_SECONDS", default: 20, in: 1...50))
            settings.model = model
        }
        return settings
    }
}
