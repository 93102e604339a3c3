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

// Batch norm after an implicit-GEMM convolution folds into it: the weight matrix's rows are
// scaled by weight * rsqrt(var + eps) and one per-channel shift remains.
func.func @fold_batch_norm(%x: tensor<1x2x4x4xf32>, %w: tensor<4x2x3x3xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %cols = rgraph.im2col %x {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x18x16xf32>
  %wm = rgraph.reshape %w : tensor<4x2x3x3xf32> -> tensor<1x4x18xf32>
  %mm = rgraph.matmul %wm, %cols : (tensor<1x4x18xf32>, tensor<1x1x18x16xf32>) -> tensor<1x1x4x16xf32>
  %conv = rgraph.reshape %mm : tensor<1x1x4x16xf32> -> tensor<1x4x4x4xf32>
  %bn = rgraph.batch_norm %conv, %g, %b, %m, %v {eps = 1.000000e-05 : f64} : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  func.return %bn : tensor<1x4x4x4xf32>
}
// CHECK-LABEL: func.func @fold_batch_norm
// CHECK-NEXT:    %cols = rgraph.im2col %x
// CHECK-NEXT:    %wm = rgraph.reshape %w
// CHECK-NEXT:    %[[EPS:.*]] = rgraph.full {value = 1.000000e-05 : f64} : tensor<f32>
// CHECK-NEXT:    %[[VAR:.*]] = rgraph.add %v, %[[EPS]] : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK-NEXT:    %[[RSTD:.*]] = rgraph.rsqrt %[[VAR]]
// CHECK-NEXT:    %[[SCALE:.*]] = rgraph.mul %g, %[[RSTD]]
// CHECK-NEXT:    %[[MS:.*]] = rgraph.mul %m, %[[SCALE]]
// CHECK-NEXT:    %[[SHIFT:.*]] = rgraph.sub %b, %[[MS]]
// CHECK-NEXT:    %[[ROWS:.*]] = rgraph.reshape %[[SCALE]] : tensor<4xf32> -> tensor<1x4x1xf32>
// CHECK-NEXT:    %[[WS:.*]] = rgraph.mul %wm, %[[ROWS]] : (tensor<1x4x18xf32>, tensor<1x4x1xf32>) -> tensor<1x4x18xf32>
// CHECK-NEXT:    %[[MM:.*]] = rgraph.matmul %[[WS]], %cols
// CHECK-NEXT:    %[[CONV:.*]] = rgraph.reshape %[[MM]] : tensor<1x1x4x16xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    %[[SHIFTC:.*]] = rgraph.reshape %[[SHIFT]] : tensor<4xf32> -> tensor<4x1x1xf32>
// CHECK-NEXT:    %[[OUT:.*]] = rgraph.add %[[CONV]], %[[SHIFTC]] : (tensor<1x4x4x4xf32>, tensor<4x1x1xf32>) -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    func.return %[[OUT]]
// CHECK-NEXT:  }

// A convolution bias joins the shift: (bias * scale) + shift.
func.func @fold_batch_norm_with_bias(%x: tensor<1x2x4x4xf32>, %w: tensor<4x2x1x1xf32>, %cb: tensor<4x1x1xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %cols = rgraph.im2col %x {kernel = array<i64: 1, 1>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x2x16xf32>
  %wm = rgraph.reshape %w : tensor<4x2x1x1xf32> -> tensor<1x4x2xf32>
  %mm = rgraph.matmul %wm, %cols : (tensor<1x4x2xf32>, tensor<1x1x2x16xf32>) -> tensor<1x1x4x16xf32>
  %conv = rgraph.reshape %mm : tensor<1x1x4x16xf32> -> tensor<1x4x4x4xf32>
  %biased = rgraph.add %conv, %cb : (tensor<1x4x4x4xf32>, tensor<4x1x1xf32>) -> tensor<1x4x4x4xf32>
  %bn = rgraph.batch_norm %biased, %g, %b, %m, %v {eps = 1.000000e-05 : f64} : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  func.return %bn : tensor<1x4x4x4xf32>
}
// CHECK-LABEL: func.func @fold_batch_norm_with_bias
// CHECK:         %[[SHIFT:.*]] = rgraph.reshape %{{.*}} : tensor<4xf32> -> tensor<4x1x1xf32>
// CHECK-NEXT:    %[[SCALE:.*]] = rgraph.reshape %{{.*}} : tensor<4xf32> -> tensor<4x1x1xf32>
// CHECK-NEXT:    %[[SCALED:.*]] = rgraph.mul %cb, %[[SCALE]]
// CHECK-NEXT:    %[[TOTAL:.*]] = rgraph.add %[[SCALED]], %[[SHIFT]]
// CHECK-NEXT:    %[[OUT:.*]] = rgraph.add %{{.*}}, %[[TOTAL]]
// CHECK-NEXT:    func.return %[[OUT]]

// When the convolution's output is read elsewhere too, folding would compute it twice: it stays.
func.func @conv_read_twice_keeps_batch_norm(%x: tensor<1x2x4x4xf32>, %w: tensor<4x2x1x1xf32>, %g: tensor<4xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) {
  %cols = rgraph.im2col %x {kernel = array<i64: 1, 1>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x2x16xf32>
  %wm = rgraph.reshape %w : tensor<4x2x1x1xf32> -> tensor<1x4x2xf32>
  %mm = rgraph.matmul %wm, %cols : (tensor<1x4x2xf32>, tensor<1x1x2x16xf32>) -> tensor<1x1x4x16xf32>
  %conv = rgraph.reshape %mm : tensor<1x1x4x16xf32> -> tensor<1x4x4x4xf32>
  %bn = rgraph.batch_norm %conv, %g, %g, %g, %g {eps = 1.000000e-05 : f64} : (tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  func.return %bn, %conv : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>
}
// CHECK-LABEL: func.func @conv_read_twice_keeps_batch_norm
// CHECK:         %bn = rgraph.batch_norm %conv
