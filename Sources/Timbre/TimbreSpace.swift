// Geometry of a model's timbre space: where a point lies among the instruments' components, how
// several encodings combine, and a fixed 2-D view of the space for maps.
import Foundation
import Model

/// A model's timbre space: one Gaussian component per instrument (mean and variance per
/// dimension), as learned by the GMVAE prior.
public struct TimbreSpace: Sendable {
    /// Instrument names, in the model's order.
    public let instruments: [String]
    /// Component means, `[instrument][dimension]`.
    public let means: [[Double]]
    /// Component variances, `[instrument][dimension]`.
    public let variances: [[Double]]

    public init(model: TimbreModel) {
        instruments = model.instrumentNames
        means = model.latentMeans.map { $0.map(Double.init) }
        variances = model.latentLogvars.map { $0.map { exp(Double($0)) } }
    }

    /// Latent dimensions.
    public var dimensions: Int { means.first?.count ?? 0 }

    /// An instrument and how far a point lies from its component.
    public struct Neighbour: Sendable, Equatable {
        /// Instrument name.
        public let instrument: String
        /// Euclidean distance in latent units from the component mean.
        public let distance: Double
        /// Distance measured in the component's standard deviations (Mahalanobis, diagonal).
        public let deviations: Double
    }

    /// Every instrument, nearest (Euclidean) first.
    public func neighbours(of z: [Float]) -> [Neighbour] {
        precondition(z.count == dimensions, "TimbreSpace.neighbours: point has \(z.count) values, space has \(dimensions)")
        return instruments.indices.map { k in
            var euclid = 0.0, mahal = 0.0
            for j in 0..<dimensions {
                let diff = Double(z[j]) - means[k][j]
                euclid += diff * diff
                mahal += diff * diff / variances[k][j]
            }
            return Neighbour(instrument: instruments[k], distance: euclid.squareRoot(), deviations: mahal.squareRoot())
        }.sorted { $0.distance < $1.distance }
    }

    /// The median distance from each component to its nearest other component: the scale of
    /// "between two instruments" in this space.
    public var typicalSpacing: Double {
        guard means.count > 1 else { return 1 }
        let nearest = means.indices.map { a in
            means.indices.filter { $0 != a }.map { b in distance(means[a], means[b]) }.min()!
        }
        return median(nearest)
    }

    /// Whether a point lies far outside everything the model knows: farther from every
    /// component than `factor` × ``typicalSpacing``.
    public func isFarOutside(_ z: [Float], factor: Double = 1.5) -> Bool {
        guard let nearest = neighbours(of: z).first else { return true }
        return nearest.distance > factor * typicalSpacing
    }

    /// Combines several encoders' posteriors (diagonal Gaussians) into one: the product of the
    /// Gaussians, i.e. the precision-weighted mean, which trusts the confident encodings more.
    /// - Returns: the combined mean and variance per dimension.
    public static func combine(means: [[Float]], logvars: [[Float]]) -> (mean: [Float], variance: [Float]) {
        precondition(!means.isEmpty && means.count == logvars.count)
        let dims = means[0].count
        var mean = [Float](repeating: 0, count: dims), variance = [Float](repeating: 0, count: dims)
        for j in 0..<dims {
            var precision = 0.0, weighted = 0.0
            for i in means.indices {
                let p = exp(-Double(logvars[i][j]))
                precision += p
                weighted += p * Double(means[i][j])
            }
            mean[j] = Float(weighted / precision)
            variance[j] = Float(1 / precision)
        }
        return (mean, variance)
    }

    /// A fixed 2-D view of the space: the two principal directions of the instrument
    /// components' means (so the picture spreads the instruments as far apart as a flat picture
    /// can). Points are projected after subtracting the components' centroid.
    public var projection: Projection { Projection(points: means) }
}

/// Principal-component projection of latent points to 2-D.
public struct Projection: Sendable {
    /// Centroid subtracted before projecting.
    public let centre: [Double]
    /// The two unit axes (principal directions), `[axis][dimension]`.
    public let axes: [[Double]]
    /// Fraction of the points' variance along each axis (0...1).
    public let explained: [Double]

    /// Principal axes of `points` (Jacobi eigen-decomposition of their covariance). Each axis's
    /// sign is fixed so that its largest loading is positive: the same model always gives the same
    /// picture.
    public init(points: [[Double]]) {
        let n = points.count, d = points.first?.count ?? 0
        var c = [Double](repeating: 0, count: d)
        for p in points { for j in 0..<d { c[j] += p[j] / Double(max(n, 1)) } }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for p in points {
            for a in 0..<d { for b in 0..<d { cov[a][b] += (p[a] - c[a]) * (p[b] - c[b]) / Double(max(n, 1)) } }
        }
        let (values, vectors) = symmetricEigen(cov)
        let order = values.indices.sorted { values[$0] > values[$1] }
        let total = max(values.reduce(0) { $0 + max($1, 0) }, 1e-300)
        centre = c
        axes = order.prefix(2).map { k in
            var v = (0..<d).map { vectors[$0][k] }
            if let big = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[big] < 0 { v = v.map { -$0 } }
            return v
        }
        explained = order.prefix(2).map { max(values[$0], 0) / total }
    }

    /// The 2-D position of a latent point.
    public func project(_ z: [Float]) -> (x: Double, y: Double) {
        var out = [0.0, 0.0]
        for a in 0..<min(2, axes.count) {
            for j in 0..<centre.count { out[a] += (Double(z[j]) - centre[j]) * axes[a][j] }
        }
        return (out[0], out[1])
    }
}

func distance(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
}

/// Eigenvalues and eigenvectors (columns) of a small symmetric matrix by cyclic Jacobi rotations.
func symmetricEigen(_ matrix: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
    let n = matrix.count
    var a = matrix
    var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<n { for q in 0..<n where p != q { off += a[p][q] * a[p][q] } }
        if off < 1e-24 { break }
        for p in 0..<n {
            for q in (p + 1)..<max(p + 1, n) where abs(a[p][q]) > 1e-300 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let cs = 1 / (t * t + 1).squareRoot(), sn = t * cs
                for k in 0..<n {
                    let akp = a[k][p], akq = a[k][q]
                    a[k][p] = cs * akp - sn * akq
                    a[k][q] = sn * akp + cs * akq
                }
                for k in 0..<n {
                    let apk = a[p][k], aqk = a[q][k]
                    a[p][k] = cs * apk - sn * aqk
                    a[q][k] = sn * apk + cs * aqk
                }
                for k in 0..<n {
                    let vkp = v[k][p], vkq = v[k][q]
                    v[k][p] = cs * vkp - sn * vkq
                    v[k][q] = sn * vkp + cs * vkq
                }
            }
        }
    }
    return ((0..<n).map { a[$0][$0] }, v)
}
