// RUN: rducc opt %s | rducc opt - | filecheck %s
// Printed IR parses back to the same IR (rgraph; the rdu dialect's round trip is rdu_ops.mlir).

builtin.module {
  func.func @g(%a: tensor<2x3xf32>, %i: tensor<2xi64>) -> tensor<2x3xf32> {
    %w = rgraph.weight "emb" : tensor<10x3xf32>
    %e = rgraph.embedding %w, %i : (tensor<10x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
    %s = rgraph.slice %a {dim = 1 : i64, start = 0 : i64, end = 3 : i64, step = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
    %c = rgraph.concat %s, %e {dim = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
    %r = rgraph.slice %c {dim = 0 : i64, start = 0 : i64, end = 2 : i64, step = 1 : i64} : tensor<4x3xf32> -> tensor<2x3xf32>
    func.return %r : tensor<2x3xf32>
  }
}

// CHECK: rgraph.embedding %{{.*}}, %{{.*}} : (tensor<10x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
// CHECK: rgraph.concat %{{.*}}, %{{.*}} {dim = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
