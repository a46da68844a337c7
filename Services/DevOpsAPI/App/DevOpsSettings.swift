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
    /// Seals monitored integrations' credentials (`OPS_ENCRYPTION_KEY`); without it the monitors accept none.
    public var opsCipher: SecretCipher?
    /// Workers of this replica that poll integrations (`OPS_MONITOR_WORKERS`; 0 leaves the polling to others).
    public var monitorWorkers = 2
    /// How often an idle monitor worker looks for a due integration (`OPS_MONITOR_TICK_MS`).
    public var monitorTick: Duration = .seconds(5)

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
        if environment.optional("OPS_ENCRYPTION_KEY") != nil {
            settings.opsCipher = try SecretCipher.load(from: environment, prefix: "OPS_ENCRYPTION")
        }
        settings.monitorWorkers = try environment.integer("OPS_MONITOR_WORKERS", default: 2, in: 0...16)
        settings.monitorTick = .milliseconds(try environment.integer("OPS_MONITOR_TICK_MS", default: 5_000, in: 50...60_000))
        return settings
    }
}
