import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// What tests share: the Postgres that `make test` started, fixed test secrets, and small helpers.
public enum TestSupport {
    public static let internalSecret = "test-internal-secret-0123456789abcdef-xyz"
    public static let userSecret = "test-supabase-jwt-secret-0123456789abcdef"

    /// The database `make test` started (`DATABASE_URL`); tests that need it fail clearly without it.
    public static func database() throws -> PostgresClient.Configuration {
        do {
            return try EnvironmentReader().database()
        } catch {
            throw ConfigurationError(variable: "DATABASE_URL", expected: "is set by `make test`; run the tests with make test")
        }
    }

    /// Service-specific variables that let every service start; tests that exercise them pass their own.
    public static let serviceVariables = [
        "STRIPE_SECRET_KEY": "sk_test_revmesh_tests",
        "STRIPE_CLIENT_ID": "ca_test_revmesh",
        "TOKEN_ENCRYPTION_KEY": tokenEncryptionKey,
        "DEVOPS_WEBHOOK_SECRET": "test-devops-webhook-secret-0123456789",
        // Sync workers take any connection's job; only the stripe-sync tests run them, one test at a time.
        "SYNC_WORKERS": "0",
        // Monitor workers likewise poll any integration: only the monitor tests run them, in processes of their own.
        "OPS_ENCRYPTION_KEY": Data(repeating: 5, count: 32).base64EncodedString(),
        "OPS_MONITOR_WORKERS": "0",
    ]
    public static let tokenEncryptionKey = Data(repeating: 7, count: 32).base64EncodedString()

    public static func serviceConfiguration(
        migrateOnStart: Bool = true,
        environment: [String: String] = serviceVariables,
        database: PostgresClient.Configuration? = nil
    ) throws -> ServiceConfiguration {
        ServiceConfiguration(
            host: "127.0.0.1",
            port: 0,
            database: try database ?? Self.database(),
            internalSecret: internalSecret,
            logLevel: .warning,
            migrateOnStart: migrateOnStart,
            environment: EnvironmentReader(environment)
        )
    }

    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }

    /// Runs `body` with a live Postgres client.
    @discardableResult
    public static func withPostgres<Value: Sendable>(
        _ configuration: PostgresClient.Configuration? = nil,
        _ body: @Sendable (PostgresClient) async throws -> Value
    ) async throws -> Value {
        // The pool warns when a lease comes before `run()` is scheduled, which is the usual order here and harmless.
        var quiet = logger
        quiet.logLevel = .error
        let client = PostgresClient(configuration: try configuration ?? database(), backgroundLogger: quiet)
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Runs `body` against a database of its own on `make test`'s server, dropped afterwards: for suites whose
    /// services would otherwise take the queued jobs and outbox rows other suites are waiting for.
    public static func withIsolatedDatabase<Value: Sendable>(
        _ body: @Sendable (PostgresClient.Configuration) async throws -> Value
    ) async throws -> Value {
        let name = uniqueSchema("isolated")
        try await withPostgres { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var configuration = try database()
        configuration.database = name
        do {
            let value = try await body(configuration)
            try await dropDatabase(name)
            return value
        } catch {
            try? await dropDatabase(name)
            throw error
        }
    }

    private static func dropDatabase(_ name: String) async throws {
        try await withPostgres { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    /// The one integer a query such as `SELECT count(*)::int …` answers.
    public static func count(_ query: PostgresQuery) async throws -> Int {
        try await withPostgres { client in
            var count = 0
            for try await value in try await client.query(query, logger: logger).decode(Int.self) { count = value }
            return count
        }
    }

    /// A schema name no other test uses.
    public static func uniqueSchema(_ prefix: String) -> String {
        prefix + "_" + UUID().uuidString.lowercased().filter(\.isLetter).prefix(12)
    }

    /// A free port for a server a test starts later itself (bound, then released).
    public static func freePort() -> Int {
        let fd = boundSocket()
        defer { close(fd.descriptor) }
        return fd.port
    }

    /// A port that refuses every connection for the whole run: it stays bound without listening, so no test's server
    /// can be given it while another test counts on nobody answering there.
    public static let refusingPort = boundSocket().port

    private static func boundSocket() -> (descriptor: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                _ = bind(fd, pointer, length)
                _ = getsockname(fd, pointer, &length)
            }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// A condition that did not come true in time.
public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for \(what)" }
}

extension TestSupport {
    /// Waits for something asynchronous (a delivery, a worker) to happen, checking often; throws when it never does.
    /// The timeout only bounds a broken test; nothing is asserted about how long it took.
    public static func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TimedOut(what: what)
    }
}
