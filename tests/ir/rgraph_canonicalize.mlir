// RUN: rducc opt %s -p canonicalize | filecheck %s
// rgraph's canonicalization patterns: double negation, identity layout ops, chained reshapes.

func.func @double_neg(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.neg %x : tensor<4xf32> -> tensor<4xf32>
  %1 = rgraph.neg %0 : tensor<4xf32> -> tensor<4xf32>
  %2 = rgraph.exp %1 : tensor<4xf32> -> tensor<4xf32>
  func.return %2 : tensor<4xf32>
}
// CHECK-LABEL: func.func @double_neg
// CHECK-NEXT:    %0 = rgraph.exp %x
// CHECK-NEXT:    func.return %0

func.func @identity_layout(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = rgraph.reshape %x : tensor<4x4xf32> -> tensor<4x4xf32>
  %1 = rgraph.expand %0 : tensor<4x4xf32> -> tensor<4x4xf32>
  %2 = rgraph.cast %1 : tensor<4x4xf32> -> tensor<4x4xf32>
  %3 = rgraph.permute %2 {dims = array<i64: 0, 1>} : tensor<4x4xf32> -> tensor<4x4xf32>
  %4 = rgraph.exp %3 : tensor<4x4xf32> -> tensor<4x4xf32>
  func.return %4 : tensor<4x4xf32>
}
// CHECK-LABEL: func.func @identity_layout
// CHECK-NEXT:    %0 = rgraph.exp %x
// CHECK-NEXT:    func.return %0

func.func @transpose_stays(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = rgraph.permute %x {dims = array<i64: 1, 0>} : tensor<4x4xf32> -> tensor<4x4xf32>
  func.return %0 : tensor<4x4xf32>
}
// CHECK-LABEL: func.func @transpose_stays
// CHECK-NEXT:    %0 = rgraph.permute %x {dims = array<i64: 1, 0>}

func.func @reshapes(%x: tensor<2x6xf32>) -> tensor<3x4xf32> {
  %0 = rgraph.reshape %x : tensor<2x6xf32> -> tensor<12xf32>
  %1 = rgraph.reshape %0 : tensor<12xf32> -> tensor<3x4xf32>
  func.return %1 : tensor<3x4xf32>
}
// CHECK-LABEL: func.func @reshapes
// CHECK-NEXT:    %0 = rgraph.reshape %x : tensor<2x6xf32> -> tensor<3x4xf32>
// CHECK-NEXT:    func.return %0

func.func @reshape_back(%x: tensor<2x6xf32>) -> tensor<2x6xf32> {
  %0 = rgraph.reshape %x : tensor<2x6xf32> -> tensor<12xf32>
  %1 = rgraph.reshape %0 : tensor<12xf32> -> tensor<2x6xf32>
  func.return %1 : tensor<2x6xf32>
}
// CHECK-LABEL: func.func @reshape_back
// CHECK-NEXT:    func.return %x
