// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower' | filecheck %s
// Kernels are named after the module path in their ops' NameLocs (the longest one they share,
// with the range of a module list's indices; `forward` for the root module), made unique with
// _2, _3; each stage keeps its op's location.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.relu %x {rdu.kernel = 0 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.0.mlp.act"("m.py":3:0))
  %1 = rgraph.exp %0 {rdu.kernel = 0 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.0.mlp"("m.py":4:0))
  %2 = rgraph.neg %1 {rdu.kernel = 1 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.0.mlp"("m.py":5:0))
  %3 = rgraph.tanh %2 {rdu.kernel = 2 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.1.norm"("m.py":6:0))
  %4 = rgraph.sin %3 {rdu.kernel = 2 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("layers.2.norm"("m.py":6:0))
  %5 = rgraph.cos %4 {rdu.kernel = 3 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("m.py":7:0)
  %6 = rgraph.abs %5 {rdu.kernel = 3 : i64} : tensor<4x8xf32> -> tensor<4x8xf32> loc("head"("m.py":8:0))
  func.return %6 : tensor<4x8xf32>
}

// CHECK:      rdu.kernel "layers.0.mlp" {
// CHECK:        rdu.compute "relu"{{.*}} loc("layers.0.mlp.act"("m.py":3:0))
// CHECK:      rdu.kernel "layers.0.mlp_2" {
// CHECK:      rdu.kernel "layers.1-2" {
// CHECK:      rdu.kernel "forward" {
// CHECK:        rdu.compute "abs"{{.*}} loc("head"("m.py":8:0))
