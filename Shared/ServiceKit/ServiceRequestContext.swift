import Hummingbird
import NIOCore

/// The request context of every Revmesh service and of the gateway.
public struct ServiceRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `RequestTrackingMiddleware` before anything else runs.
    public var requestID: String = ""
    /// The verified identity; set by `IdentityMiddleware` in services and by the gateway's authentication.
    public var identity: Identity?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The caller's identity, or 401 when the request carries none.
    public func requireIdentity() throws -> Identity {
        guard let identity else { throw APIError.unauthorized("missing_identity", "this request carries no verified identity") }
        return identity
    }

    /// A signed-in user (or admin); service and anonymous identities are refused.
    public func requireUser() throws -> Identity {
        let identity = try requireIdentity()
        guard identity.isUser else { throw APIError.forbidden("user_required", "this endpoint needs a signed-in user") }
        return identity
    }

    /// A call from another Revmesh service.
    public func requireService() throws -> Identity {
        let identity = try requireIdentity()
        guard identity.role == .service else { throw APIError.forbidden("service_required", "this endpoint is for Revmesh services only") }
        return identity
    }

    public func requireAdmin() throws -> Identity {
        let identity = try requireIdentity()
        guard identity.role == .admin else { throw APIError.forbidden("admin_required", "this endpoint needs an admin") }
        return identity
    }
}
