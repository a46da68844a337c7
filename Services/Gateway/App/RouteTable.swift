import HTTPTypes

/// A route path: literal segments, `{name}` for one segment, and a final `*` for one or more segments.
public struct PathPattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter
        case rest
    }

    let segments: [Segment]
    public let text: String

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(_ text: String) throws {
        guard text.hasPrefix("/") else { throw Invalid(description: "path must start with /, got \"\(text)\"") }
        let parts = text.split(separator: "/")
        var segments: [Segment] = []
        for (index, part) in parts.enumerated() {
            if part == "*" {
                guard index == parts.count - 1 else { throw Invalid(description: "* may only end a path, in \"\(text)\"") }
                segments.append(.rest)
            } else if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                segments.append(.parameter)
            } else if part.contains(where: { "{}*".contains($0) }) {
                throw Invalid(description: "bad path segment \"\(part)\" in \"\(text)\"")
            } else {
                segments.append(.literal(String(part)))
            }
        }
        self.segments = segments
        self.text = text
    }

    func matches(_ path: [Substring]) -> Bool {
        var index = 0
        for segment in segments {
            switch segment {
            case .rest:
                return index < path.count
            case .parameter:
                guard index < path.count else { return false }
            case .literal(let literal):
                guard index < path.count, path[index] == literal else { return false }
            }
            index += 1
        }
        return index == path.count
    }
}

/// Finds the route for a request: the first route in file order whose path and method match.
public struct RouteTable: Sendable {
    public let routes: [GatewayConfig.Route]

    public enum Match: Equatable {
        case route(GatewayConfig.Route)
        /// The path is routed, but not for this method.
        case methodNotAllowed(allowed: [String])
        case none
    }

    public init(_ routes: [GatewayConfig.Route]) {
        self.routes = routes
    }

    public func match(method: HTTPRequest.Method, path: String) -> Match {
        let segments = path.split(separator: "/")
        var allowed: [String] = []
        for route in routes where route.pattern.matches(segments) {
            if route.method == nil || route.method == method || (method == .head && route.method == .get) {
                return .route(route)
            }
            allowed.append(route.method!.rawValue)
        }
        return allowed.isEmpty ? .none : .methodNotAllowed(allowed: allowed)
    }

    /// The methods a path answers: its routes' (HEAD with GET), or GET and HEAD for the static files of unrouted paths.
    public func methods(forPath path: String) -> [String] {
        let segments = path.split(separator: "/")
        let matching = routes.filter { $0.pattern.matches(segments) }
        guard !matching.isEmpty else { return ["GET", "HEAD"] }
        if matching.contains(where: { $0.method == nil }) { return GatewayConfig.methods }
        var methods: [String] = []
        for method in matching.compactMap({ $0.method?.rawValue }) where !methods.contains(method) {
            methods.append(method)
            if method == "GET", !methods.contains("HEAD") { methods.append("HEAD") }
        }
        return methods
    }
}
