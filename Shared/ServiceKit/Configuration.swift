import Foundation
import Logging
import PostgresNIO

/// A required variable that is missing or malformed; the process stops with this one line.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let variable: String
    public let expected: String

    public init(variable: String, expected: String) {
        self.variable = variable
        self.expected = expected
    }

    public var description: String { "configuration error: \(variable) \(expected)" }
}

/// Reads configuration from a variables dictionary (the process environment by default) and
/// turns every problem into a `ConfigurationError` naming the variable.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// The value, with empty strings treated as unset.
    public func optional(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    public func required(_ name: String, expecting expected: String) throws -> String {
        guard let value = optional(name) else { throw ConfigurationError(variable: name, expected: "is required: \(expected)") }
        return value
    }

    /// A secret used as an HMAC key: jwt-kit traps on HMAC keys shorter than 32 bytes, so they are refused here.
    public func secret(_ name: String) throws -> String {
        let value = try required(name, expecting: "a random secret of at least 32 characters")
        guard value.utf8.count >= 32 else {
            throw ConfigurationError(variable: name, expected: "must be at least 32 characters long (got \(value.utf8.count))")
        }
        return value
    }

    public func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let raw = optional(name) else { return defaultValue }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigurationError(variable: name, expected: "must be an integer in \(range.lowerBound)...\(range.upperBound) (got \"\(raw)\")")
        }
        return value
    }

    /// An http(s) base URL, without a trailing slash.
    public func url(_ name: String, default defaultValue: String) throws -> String {
        let raw = optional(name) ?? defaultValue
        guard let url = URL(string: raw), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ConfigurationError(variable: name, expected: "must be an http(s) URL (got \"\(raw)\")")
        }
        return raw.hasSuffix("/") ? String(raw.dropLast()) : raw
    }

    public func logLevel() throws -> Logger.Level {
        guard let raw = optional("LOG_LEVEL") else { return .info }
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            throw ConfigurationError(variable: "LOG_LEVEL", expected: "must be one of trace, debug, info, notice, warning, error, critical")
        }
        return level
    }

    /// `DATABASE_URL` as `postgres://user:password@host:port/database`.
    public func database() throws -> PostgresClient.Configuration {
        let expected = "must be a URL like postgres://user:password@host:5432/database"
        let raw = try required("DATABASE_URL", expecting: "a URL like postgres://user:password@host:5432/database")
        guard let url = URLComponents(string: raw), url.scheme == "postgres" || url.scheme == "postgresql",
            let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
        else { throw ConfigurationError(variable: "DATABASE_URL", expected: expected) }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let sslMode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw ConfigurationError(variable: "DATABASE_URL", expected: "sslmode must be disable, prefer or require")
        }
        return PostgresClient.Configuration(
            host: host,
            port: url.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: url.password?.removingPercentEncoding,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
    }
}

/// Everything a service needs at start, read and checked once.
public struct ServiceConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var database: PostgresClient.Configuration
    public var internalSecret: String
    public var logLevel: Logger.Level
    /// Migrations run before the server accepts requests; `migrate` runs them alone.
    public var migrateOnStart: Bool
    /// The whole environment, for service-specific settings read by the service itself.
    public var environment: EnvironmentReader

    public init(
        host: String = "127.0.0.1",
        port: Int,
        database: PostgresClient.Configuration,
        internalSecret: String,
        logLevel: Logger.Level = .info,
        migrateOnStart: Bool = true,
        environment: EnvironmentReader = EnvironmentReader([:])
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.internalSecret = internalSecret
        self.logLevel = logLevel
        self.migrateOnStart = migrateOnStart
        self.environment = environment
    }

    public static func load(for descriptor: ServiceDescriptor, from environment: EnvironmentReader) throws -> ServiceConfiguration {
        ServiceConfiguration(
            host: environment.optional("HOST") ?? "127.0.0.1",
            port: try environment.integer(descriptor.portVariable, default: descriptor.defaultPort, in: 0...65535),
            database: try environment.database(),
            internalSecret: try environment.secret("INTERNAL_SECRET"),
            logLevel: try environment.logLevel(),
            environment: environment
        )
    }
}
