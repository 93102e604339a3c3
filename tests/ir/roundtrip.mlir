// RUN: rducc opt %s | rducc opt - | filecheck %s
// Printed IR parses back to the same IR, for both dialects.

builtin.module attributes {rdu.chip = "small"} {
  %0 = rdu.tensor "x" {role = "input", tier = "hbm", index = 0 : i64, offset = 0 : i64} : tensor<2x4xf32>
  %1 = rdu.tensor "c" {role = "constant", tier = "ddr", value = 1.5 : f64, offset = 64 : i64} : tensor<f32>
  %2 = rdu.tensor "output0" {role = "output", tier = "hbm", index = 0 : i64, offset = 128 : i64} : tensor<2x4xf32>
  rdu.kernel "k0" {
    %3 = rdu.load %0 {units = 2 : i64, sites = array<i64: 0, 0, 0, 1>} : tensor<2x4xf32>
    %4 = rdu.buffer %3 {units = 1 : i64, bytes = 64 : i64, tile_bytes = 32 : i64} : tensor<2x4xf32>
    %5 = rdu.load %1 {units = 1 : i64} : tensor<f32>
    %6 = rdu.buffer %5 {units = 1 : i64, bytes = 8 : i64, tile_bytes = 4 : i64} : tensor<f32>
    %7 = rdu.compute "mul"(%4, %6) {unit = "pcu", params = {}, units = 1 : i64} : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
    %8, %9 = rdu.compute "topk"(%7) {unit = "pcu", params = {k = 2 : i64, dim = 1 : i64, largest = true, sorted = true}, units = 1 : i64} : (tensor<2x4xf32>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
    %10 = rdu.buffer %7 {units = 1 : i64, bytes = 64 : i64, tile_bytes = 32 : i64} : tensor<2x4xf32>
    rdu.store %10 to %2 {units = 1 : i64} : tensor<2x4xf32>
  }
  func.func @g(%a: tensor<2x3xf32>, %i: tensor<2xi64>) -> tensor<2x3xf32> {
    %w = rgraph.weight "emb" : tensor<10x3xf32>
    %e = rgraph.embedding %w, %i : (tensor<10x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
    %s = rgraph.slice %a {dim = 1 : i64, start = 0 : i64, end = 3 : i64, step = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
    %c = rgraph.concat %s, %e {dim = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
    %r = rgraph.slice %c {dim = 0 : i64, start = 0 : i64, end = 2 : i64, step = 1 : i64} : tensor<4x3xf32> -> tensor<2x3xf32>
    func.return %r : tensor<2x3xf32>
  }
}

// CHECK: %{{.*}} = rdu.tensor "c" {role = "constant", tier = "ddr", value = 1.500000e+00 : f64, offset = 64 : i64} : tensor<f32>
// CHECK: rdu.load %{{.*}} {units = 2 : i64, sites = array<i64: 0, 0, 0, 1>}
// CHECK: %{{.*}}, %{{.*}} = rdu.compute "topk"(%{{.*}}) {unit = "pcu", params = {k = 2 : i64, dim = 1 : i64, largest = true, sorted = true}
// CHECK: rgraph.embedding %{{.*}}, %{{.*}} : (tensor<10x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
// CHECK: rgraph.concat %{{.*}}, %{{.*}} {dim = 0 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
