import ServiceKit

/// devops-api's own variables, read and checked at start.
public struct DevOpsSettings: Sendable {
    public var billingURL: String
    /// The gateway's internal metrics listener, whose `/metrics` the status page reads.
    public var gatewayMetricsURL: String
    /// Webhook bodies must carry `X-Signature: sha256=<HMAC>` under it; nil only with `DEVOPS_WEBHOOK_INSECURE=true`.
    public var webhookSecret: String?
    public var usageFlushInterval: Duration = .seconds(5)
    /// Amounts in the sync endpoints are reported in this currency.
    public var reportingCurrency = "usd"

    public init(billingURL: String, gatewayMetricsURL: String, webhookSecret: String?) {
        self.billingURL = billingURL
        self.gatewayMetricsURL = gatewayMetricsURL
        self.webhookSecret = webhookSecret
    }

    public static func load(from environment: EnvironmentReader) throws -> DevOpsSettings {
        var settings = DevOpsSettings(
            billingURL: try environment.url("BILLING_WEBHOOKS_URL", default: "http://127.0.0.1:8101"),
            gatewayMetricsURL: try environment.url("GATEWAY_METRICS_URL", default: "http://127.0.0.1:9090"),
            webhookSecret: environment.optional("DEVOPS_WEBHOOK_INSECURE") == "true" && environment.optional("DEVOPS_WEBHOOK_SECRET") == nil
                ? nil : try environment.secret("DEVOPS_WEBHOOK_SECRET")
        )
        settings.usageFlushInterval = .seconds(try environment.integer("DEVOPS_USAGE_FLUSH_SECONDS", default: 5, in: 1...300))
        settings.reportingCurrency = (environment.optional("DEVOPS_REPORTING_CURRENCY") ?? "usd").lowercased()
        return settings
    }
}
