// RUN: rducc opt %s --split-input-file -p rdu-fuse | filecheck %s
// Each chunk (between separator lines) is its own module, parsed and passed separately; the output keeps the separators.

func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// CHECK:      builtin.module {
// CHECK:        rgraph.exp %x {rdu.kernel = 0 : i64} : tensor<4xf32> -> tensor<4xf32>
// CHECK-NOT:    rgraph.neg
// CHECK:      {{^//}} -----
// CHECK-NEXT: builtin.module {

// -----

func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.neg %x : tensor<4xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}

// CHECK:        rgraph.neg %x {rdu.kernel = 0 : i64} : tensor<4xf32> -> tensor<4xf32>
// CHECK-NOT:    rgraph.exp
