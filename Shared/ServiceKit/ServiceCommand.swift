import ArgumentParser
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// A service module names itself and builds its application; `ServiceCommand` turns that into a process.
public protocol RevmeshService: Sendable {
    static var descriptor: ServiceDescriptor { get }
    /// Reads the service's own variables from `configuration.environment`; throws `ConfigurationError` naming a bad one.
    static func checkConfiguration(_ configuration: ServiceConfiguration) throws
    static func buildApplication(_ configuration: ServiceConfiguration) async throws -> ServiceApplication
}

extension RevmeshService {
    public static func checkConfiguration(_ configuration: ServiceConfiguration) throws {}
}

/// `<service> serve` (the default) and `<service> migrate`.
public struct ServiceCommand<S: RevmeshService>: AsyncParsableCommand {
    public static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: S.descriptor.name,
            abstract: "Revmesh \(S.descriptor.name)",
            subcommands: [Serve.self, Migrate.self],
            defaultSubcommand: Serve.self
        )
    }

    public init() {}

    public struct Serve: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "Migrate the schema, then serve HTTP.") }

        @Option(help: "Address to bind (default HOST or 127.0.0.1).") var host: String?
        @Option(help: "Port to listen on (default \(S.descriptor.portVariable) or \(S.descriptor.defaultPort)).") var port: Int?

        public init() {}

        public func run() async throws {
            var configuration = try loadConfiguration(S.self, serving: true)
            if let host { configuration.host = host }
            if let port { configuration.port = port }
            let app = try await S.buildApplication(configuration)
            try await app.runService()
        }
    }

    public struct Migrate: AsyncParsableCommand {
        public static var configuration: CommandConfiguration { CommandConfiguration(abstract: "Apply pending migrations and exit.") }

        public init() {}

        public func run() async throws {
            let configuration = try loadConfiguration(S.self, serving: false)
            let logger = Logger(label: S.descriptor.name)
            let client = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                let applied = try await S.descriptor.migrate(on: client, logger: logger)
                logger.info(
                    "schema \(S.descriptor.schema) is current",
                    metadata: ["applied": .string(applied.map(String.init).joined(separator: ","))]
                )
                group.cancelAll()
            }
        }
    }
}

/// Reads the configuration; a bad variable ends the process with one line naming it.
/// `serving` also checks the service's own variables, which `migrate` does not need.
public func loadConfiguration<S: RevmeshService>(_ service: S.Type, serving: Bool) throws -> ServiceConfiguration {
    do {
        let configuration = try ServiceConfiguration.load(for: S.descriptor, from: EnvironmentReader())
        if serving { try S.checkConfiguration(configuration) }
        bootstrapLogging(level: configuration.logLevel)
        return configuration
    } catch let error as ConfigurationError {
        exitWithConfigurationError(error)
    }
}

public func exitWithConfigurationError(_ error: ConfigurationError) -> Never {
    FileHandle.standardError.write(Data("\(error.description)\n".utf8))
    exit(78)  // EX_CONFIG
}

/// Called once per process, from a command, never from `buildApplication` (tests build many apps).
public func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardOutput(label: label)
        handler.logLevel = level
        return handler
    }
}
