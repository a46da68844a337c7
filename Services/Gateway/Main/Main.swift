import ArgumentParser
import Foundation
import Gateway
import ServiceKit

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Revmesh's public gateway: routes by gateway.conf and enforces each route's auth scheme.",
        subcommands: [Serve.self, Check.self, Token.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the routes of the route file.")

    @Option(help: "The route file (default GATEWAY_CONFIG or gateway.conf).") var config: String?

    func run() async throws {
        let environment = EnvironmentReader()
        let settings: GatewaySettings
        do {
            settings = try GatewaySettings.load(configPath: config ?? environment.optional("GATEWAY_CONFIG") ?? "gateway.conf", environment: environment)
        } catch let error as ConfigurationError {
            exitWithConfigurationError(error)
        } catch let error as GatewayConfigError {
            exitWithConfigurationError(ConfigurationError(variable: "GATEWAY_CONFIG", expected: "is invalid: \(error)"))
        }
        bootstrapLogging(level: settings.logLevel)
        try await buildGateway(settings).runService()
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a route file and exit (0 when valid).")

    @Argument(help: "The route file.") var file: String = "gateway.conf"

    func run() throws {
        do {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let config = try GatewayConfig.parse(text, file: file, environment: ProcessInfo.processInfo.environment)
            print("\(file): \(config.services.count) services, \(config.routes.count) routes, OK")
        } catch let error as GatewayConfigError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode.failure
        } catch {
            FileHandle.standardError.write(Data("\(file): cannot be read\n".utf8))
            throw ExitCode.failure
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a user token signed with SUPABASE_JWT_SECRET, for local use.")

    @Option(help: "The user id (the token's subject).") var sub: String
    @Option(help: "The user's email.") var email: String?
    @Flag(help: "Make the user an admin (app_metadata.role = admin).") var admin = false
    @Option(help: "Lifetime in seconds.") var ttl: Int = 3600

    func run() async throws {
        let secret: String
        do {
            secret = try EnvironmentReader().secret("SUPABASE_JWT_SECRET")
        } catch let error as ConfigurationError {
            exitWithConfigurationError(error)
        }
        let claims = UserClaims(subject: sub, email: email, admin: admin, issuedAt: Date(), lifetime: TimeInterval(ttl))
        print(try await UserTokenVerifier.mint(claims, hmacSecret: secret))
    }
}
