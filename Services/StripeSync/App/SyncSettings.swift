import Crypto
import Foundation
import ServiceKit
import StripeKit

/// stripe-sync's own variables, read and checked at start.
public struct SyncSettings: Sendable {
    public var stripeSecretKey: String
    public var clientID: String
    public var stripeAPIBase: String
    public var connectBase: String
    public var appURL: String
    /// Where each sync's transaction volume is reported.
    public var insightsUsageURL = "http://127.0.0.1:8103"
    /// Sync workers in this process (`SYNC_WORKERS`, default 1; 0 for API-only replicas).
    public var workers = 1
    /// False in `stripe-sync worker`: no public routes, only the probes.
    public var serveAPI = true
    public var jobLease: Duration = .seconds(60)
    public var pollInterval: Duration = .seconds(1)
    /// Requests a second to each connected account (`STRIPE_SYNC_RATE`); 0 turns the limit off.
    public var ratePerAccount = 20
    /// The live stream's limits (`STREAM_MAX_CONNECTIONS`, `STREAM_MAX_PER_USER`).
    public var streamLimits = StreamHub.Limits()
    let cipher: SecretCipher
    /// Signs OAuth states.
    let stateKey: SymmetricKey

    public static let defaultConnectBase = "https://connect.stripe.com"

    /// OAuth states are signed with a key derived from the internal secret, so every replica accepts any replica's.
    public static func load(from environment: EnvironmentReader, internalSecret: String) throws -> SyncSettings {
        let key = try environment.required("STRIPE_SECRET_KEY", expecting: "a Stripe secret key (sk_… or rk_…)")
        guard key.hasPrefix("sk_") || key.hasPrefix("rk_") else {
            throw ConfigurationError(variable: "STRIPE_SECRET_KEY", expected: "must be a Stripe secret key (sk_… or rk_…)")
        }
        let clientID = try environment.required("STRIPE_CLIENT_ID", expecting: "the Connect platform's client id (ca_…)")
        guard clientID.hasPrefix("ca_") else {
            throw ConfigurationError(variable: "STRIPE_CLIENT_ID", expected: "must be a Connect client id (ca_…)")
        }
        var settings = SyncSettings(
            stripeSecretKey: key,
            clientID: clientID,
            stripeAPIBase: try environment.url("STRIPE_API_BASE", default: StripeClient.defaultAPIBase),
            connectBase: try environment.url("STRIPE_CONNECT_BASE", default: defaultConnectBase),
            appURL: try environment.url("APP_URL", default: "http://localhost:8080"),
            cipher: try SecretCipher.load(from: environment, prefix: "TOKEN_ENCRYPTION"),
            stateKey: SymmetricKey(data: SHA256.hash(data: Data(("connect-state:" + internalSecret).utf8)))
        )
        settings.workers = try environment.integer("SYNC_WORKERS", default: 1, in: 0...64)
        settings.insightsUsageURL = try environment.url("INSIGHTS_USAGE_URL", default: "http://127.0.0.1:8103")
        settings.jobLease = .seconds(try environment.integer("SYNC_JOB_LEASE_SECONDS", default: 60, in: 2...3_600))
        settings.ratePerAccount = try environment.integer("STRIPE_SYNC_RATE", default: 20, in: 0...10_000)
        settings.streamLimits.connections = try environment.integer("STREAM_MAX_CONNECTIONS", default: 10_000, in: 1...1_000_000)
        settings.streamLimits.perUser = try environment.integer("STREAM_MAX_PER_USER", default: 5, in: 1...1_000)
        return settings
    }

    init(
        stripeSecretKey: String,
        clientID: String,
        stripeAPIBase: String,
        connectBase: String,
        appURL: String,
        cipher: SecretCipher,
        stateKey: SymmetricKey
    ) {
        self.stripeSecretKey = stripeSecretKey
        self.clientID = clientID
        self.stripeAPIBase = stripeAPIBase
        self.connectBase = connectBase
        self.appURL = appURL
        self.cipher = cipher
        self.stateKey = stateKey
    }
}
