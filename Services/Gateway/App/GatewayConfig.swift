import Foundation
import HTTPTypes

/// `gateway.conf`: where to listen, the frontend folder, the upstream services and the route table.
public struct GatewayConfig: Sendable, Equatable {
    public var listenHost: String
    public var listenPort: Int
    public var frontend: String?
    public var services: [Upstream]
    public var routes: [Route]
    /// Every `${VAR}` the file reads, with the line that reads it.
    public var referencedVariables: [String: Int]

    public struct Upstream: Sendable, Equatable {
        public var name: String
        public var url: String
        /// The variable that overrides the URL (`${BILLING_WEBHOOKS_URL:-…}` → `BILLING_WEBHOOKS_URL`), if any.
        public var urlVariable: String?
    }

    public struct Route: Sendable, Equatable {
        public var line: Int
        /// nil matches every method.
        public var method: HTTPRequest.Method?
        public var pattern: PathPattern
        public var service: String
        public var auth: AuthScheme
        public var limit: RateLimit?
        public var bodyLimit: Int?
        public var timeout: Duration?
        /// The only cookies the upstream is sent (every other one is stripped, as credentials are).
        public var forwardedCookies: [String] = []
        /// A long-lived answer (Server-Sent Events): relayed on connections of its own, so that a thousand open
        /// streams never hold the upstream pool that every other request waits on.
        public var isStream = false

        public var label: String { "\(method?.rawValue ?? "*") \(pattern.text)" }
    }

    public func upstream(named name: String) -> Upstream? { services.first { $0.name == name } }
}

public enum AuthScheme: Sendable, Equatable, CustomStringConvertible {
    case none
    case user
    case userOptional
    case admin
    case bearerSecret(variable: String)
    case stripeSignature(variable: String)
    case apiKey(scope: String)

    public var description: String {
        switch self {
        case .none: "none"
        case .user: "user"
        case .userOptional: "user-optional"
        case .admin: "admin"
        case .bearerSecret(let variable): "bearer-secret(\(variable))"
        case .stripeSignature(let variable): "stripe-signature(\(variable))"
        case .apiKey(let scope): "api-key(\(scope))"
        }
    }

    /// The variable whose value the scheme checks against.
    public var secretVariable: String? {
        switch self {
        case .bearerSecret(let variable), .stripeSignature(let variable): variable
        default: nil
        }
    }

    public var needsUserTokens: Bool { self == .user || self == .userOptional || self == .admin }
}

public struct RateLimit: Sendable, Equatable {
    public var requests: Int
    public var windowSeconds: Int
}

public struct GatewayConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String
    public var description: String { "\(file):\(line): \(message)" }
}

extension GatewayConfig {
    public static let defaultTimeout: Duration = .seconds(30)

    /// Parses the file, expanding `${VAR}` and `${VAR:-default}` from `environment`.
    public static func parse(_ text: String, file: String = "gateway.conf", environment: [String: String]) throws -> GatewayConfig {
        var config = GatewayConfig(listenHost: "0.0.0.0", listenPort: 8080, frontend: nil, services: [], routes: [], referencedVariables: [:])
        var routeLines: [(Int, [String])] = []
        var sawListen = false
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> GatewayConfigError { GatewayConfigError(file: file, line: lineNumber, message: message) }
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let (expanded, variables) = try expand(String(content), environment: environment, fail: fail)
            for variable in variables where config.referencedVariables[variable] == nil { config.referencedVariables[variable] = lineNumber }
            let words = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let keyword = words.first else { continue }
            switch keyword {
            case "listen":
                guard words.count == 2, !sawListen else { throw fail(sawListen ? "listen is given twice" : "expected: listen HOST:PORT") }
                guard let colon = words[1].lastIndex(of: ":"), let port = Int(words[1][words[1].index(after: colon)...]), (0...65535).contains(port)
                else { throw fail("listen needs HOST:PORT with a port in 0...65535, got \"\(words[1])\"") }
                config.listenHost = String(words[1][..<colon])
                config.listenPort = port
                sawListen = true
            case "frontend":
                guard words.count == 2 else { throw fail("expected: frontend DIRECTORY") }
                config.frontend = words[1]
            case "service":
                guard words.count == 3 else { throw fail("expected: service NAME URL") }
                guard config.upstream(named: words[1]) == nil else { throw fail("service \(words[1]) is declared twice") }
                guard let url = URL(string: words[2]), url.scheme == "http" || url.scheme == "https", url.host != nil,
                    url.path.isEmpty || url.path == "/"
                else { throw fail("service \(words[1]) needs an http(s) URL without a path, got \"\(words[2])\"") }
                let urlVariable = rawLine.firstMatch(of: /\$\{([A-Z0-9_]+)/).map { String($0.output.1) }
                config.services.append(
                    Upstream(name: words[1], url: words[2].hasSuffix("/") ? String(words[2].dropLast()) : words[2], urlVariable: urlVariable)
                )
            case "route":
                routeLines.append((lineNumber, Array(words.dropFirst())))
            default:
                throw fail("unknown directive \"\(keyword)\" (expected listen, frontend, service or route)")
            }
        }
        // Routes may name services declared further down, so they are read last.
        for (lineNumber, words) in routeLines {
            config.routes.append(try parseRoute(words, line: lineNumber, file: file, config: config))
        }
        return config
    }

    static func parseRoute(_ words: [String], line: Int, file: String, config: GatewayConfig) throws -> Route {
        func fail(_ message: String) -> GatewayConfigError { GatewayConfigError(file: file, line: line, message: message) }
        guard words.count >= 4 else {
            throw fail("expected: route METHOD PATH SERVICE auth=SCHEME [limit=N/unit] [body=SIZE] [timeout=DURATION] [cookies=NAME,…] [stream=true]")
        }
        let method: HTTPRequest.Method?
        if words[0] == "*" {
            method = nil
        } else {
            guard Self.methods.contains(words[0]), let parsed = HTTPRequest.Method(words[0]) else {
                throw fail("unknown method \"\(words[0])\" (expected one of \(Self.methods.joined(separator: ", ")) or *)")
            }
            method = parsed
        }
        let pattern: PathPattern
        do { pattern = try PathPattern(words[1]) } catch { throw fail("\(error)") }
        guard config.upstream(named: words[2]) != nil else {
            throw fail("unknown service \"\(words[2])\" (declare it with: service \(words[2]) URL)")
        }
        var auth: AuthScheme?
        var route = Route(line: line, method: method, pattern: pattern, service: words[2], auth: .none, limit: nil, bodyLimit: nil, timeout: nil)
        for option in words.dropFirst(3) {
            let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw fail("expected KEY=VALUE, got \"\(option)\"") }
            switch pair[0] {
            case "auth":
                guard let scheme = parseAuth(pair[1]) else {
                    throw fail(
                        "unknown auth scheme \"\(pair[1])\" (expected none, user, user-optional, admin, bearer-secret(ENV), stripe-signature(ENV) or api-key(SCOPE))"
                    )
                }
                auth = scheme
            case "limit":
                guard let limit = parseLimit(pair[1]) else {
                    throw fail("limit must look like 20/minute (second, minute or hour), got \"\(pair[1])\"")
                }
                route.limit = limit
            case "body":
                guard let size = parseSize(pair[1]) else { throw fail("body must be a size like 512k or 1m, got \"\(pair[1])\"") }
                route.bodyLimit = size
            case "timeout":
                guard let timeout = parseDuration(pair[1]) else { throw fail("timeout must be a duration like 500ms, 30s or 2m, got \"\(pair[1])\"") }
                route.timeout = timeout
            case "cookies":
                let names = pair[1].split(separator: ",").map(String.init)
                guard !names.isEmpty, names.allSatisfy({ $0.wholeMatch(of: /[A-Za-z0-9_\-]+/) != nil }) else {
                    throw fail("cookies must name cookies separated by commas, got \"\(pair[1])\"")
                }
                route.forwardedCookies = names
            case "stream":
                guard let flag = Bool(pair[1]) else { throw fail("stream must be true or false, got \"\(pair[1])\"") }
                route.isStream = flag
            default:
                throw fail("unknown option \"\(pair[0])\" (expected auth, limit, body, timeout, cookies or stream)")
            }
        }
        guard let auth else { throw fail("every route names its auth scheme: add auth=none if it is public") }
        route.auth = auth
        return route
    }

    static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    static func parseAuth(_ text: String) -> AuthScheme? {
        switch text {
        case "none": return AuthScheme.none
        case "user": return .user
        case "user-optional": return .userOptional
        case "admin": return .admin
        default:
            guard let match = text.wholeMatch(of: /([a-z-]+)\(([A-Za-z0-9_:.\-]+)\)/) else { return nil }
            let argument = String(match.output.2)
            let isVariable = argument.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }
            switch match.output.1 {
            case "bearer-secret" where isVariable: return .bearerSecret(variable: argument)
            case "stripe-signature" where isVariable: return .stripeSignature(variable: argument)
            case "api-key": return .apiKey(scope: argument)
            default: return nil
            }
        }
    }

    static func parseLimit(_ text: String) -> RateLimit? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let count = Int(parts[0]), count > 0 else { return nil }
        let window: Int
        switch parts[1] {
        case "second", "s": window = 1
        case "minute", "m": window = 60
        case "hour", "h": window = 3600
        default: return nil
        }
        return RateLimit(requests: count, windowSeconds: window)
    }

    static func parseSize(_ text: String) -> Int? {
        guard let match = text.lowercased().wholeMatch(of: /([0-9]+)(b|k|kb|m|mb)?/), let number = Int(match.output.1) else { return nil }
        switch match.output.2 {
        case "k", "kb": return number * 1024
        case "m", "mb": return number * 1024 * 1024
        default: return number
        }
    }

    static func parseDuration(_ text: String) -> Duration? {
        guard let match = text.wholeMatch(of: /([0-9]+)(ms|s|m)/), let number = Int(match.output.1), number > 0 else { return nil }
        switch match.output.2 {
        case "ms": return .milliseconds(number)
        case "s": return .seconds(number)
        default: return .seconds(number * 60)
        }
    }

    static func expand(
        _ text: String,
        environment: [String: String],
        fail: (String) -> GatewayConfigError
    ) throws -> (String, [String]) {
        var variables: [String] = []
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { throw fail("unclosed ${") }
            let body = rest[start.upperBound..<end]
            let name: Substring
            let fallback: Substring?
            if let separator = body.range(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) else {
                throw fail("\"${\(body)}\" is not a variable (use ${NAME} or ${NAME:-default})")
            }
            variables.append(String(name))
            if let value = environment[String(name)], !value.isEmpty {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                throw fail("variable \(name) is not set and has no default")
            }
            rest = rest[rest.index(after: end)...]
        }
        result += rest
        return (result, variables)
    }
}
