// RUN: rducc opt %s --split-input-file --verify-diagnostics | filecheck %s
// Every rgraph verifier rule, one case (input chunk) each, with the message it gives: rducc opt
// prints it and the CHECK line states it. tests/dialects/test_rgraph_invalid.py also parses each
// case and asserts the verifier raises exactly this message.

// CHECK: "x" should be of base attribute integer
func.func @case0(%a: tensor<2x4xf32>) {
  %0 = rgraph.argmax %a {dim = "x", keepdim = false} : tensor<2x4xf32> -> tensor<2xi64>
  func.return
}

// -----

// CHECK: Expected attribute i64 but got i32
func.func @case1(%a: tensor<2x4xf32>) {
  %0 = rgraph.argmax %a {dim = 1 : i32, keepdim = false} : tensor<2x4xf32> -> tensor<2xi64>
  func.return
}

// -----

// CHECK: property 'dim' expected in operation 'rgraph.softmax'
func.func @case2(%a: tensor<2x4xf32>) {
  %0 = rgraph.softmax %a : tensor<2x4xf32> -> tensor<2x4xf32>
  func.return
}

// -----

// CHECK: Expected attribute i64 but got i32
func.func @case3(%a: tensor<2x4xf32>) {
  %0 = rgraph.sum %a {dims = array<i32: 0>, keepdim = false} : tensor<2x4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: Expected attribute i1 but got i64
func.func @case4(%a: tensor<2x4xf32>) {
  %0 = rgraph.sum %a {dims = array<i64: 0>, keepdim = 1 : i64} : tensor<2x4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: Unexpected attribute "x"
func.func @case5() {
  %0 = rgraph.full {value = "x"} : tensor<4xf32>
  func.return
}

// -----

// CHECK: Unexpected attribute "8"
func.func @case6() {
  %0 = rgraph.arange {start = 0 : i64, end = "8", step = 1 : i64} : tensor<8xi64>
  func.return
}

// -----

// CHECK: 3 : i64 should be of base attribute string
func.func @case7(%a: tensor<4xf32>) {
  %0 = rgraph.gelu %a {approximate = 3 : i64} : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.neg: element type index is not supported
func.func @case8(%a: tensor<4xf32>) {
  %0 = rgraph.neg %a : tensor<4xf32> -> tensor<4xindex>
  func.return
}

// -----

// CHECK: rgraph.add: shapes [(4, 8), (4, 7)] do not broadcast
func.func @case9(%a: tensor<4x8xf32>, %b: tensor<4x7xf32>) {
  %0 = rgraph.add %a, %b : (tensor<4x8xf32>, tensor<4x7xf32>) -> tensor<4x8xf32>
  func.return
}

// -----

// CHECK: rgraph.add: result shape (4, 9) is not the broadcast (4,) of its inputs
func.func @case10(%a: tensor<4xf32>) {
  %0 = rgraph.add %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4x9xf32>
  func.return
}

// -----

// CHECK: rgraph.mul: inputs have different dtypes ['f32', 'i64']
func.func @case11(%a: tensor<4xf32>, %b: tensor<4xi64>) {
  %0 = rgraph.mul %a, %b : (tensor<4xf32>, tensor<4xi64>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.sub: result dtype i64 should be f32
func.func @case12(%a: tensor<4xf32>) {
  %0 = rgraph.sub %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xi64>
  func.return
}

// -----

// CHECK: rgraph.lt: result dtype f32 should be i1
func.func @case13(%a: tensor<4xf32>) {
  %0 = rgraph.lt %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.logical_and: input 0 must be i1, got f32
func.func @case14(%a: tensor<4xf32>) {
  %0 = rgraph.logical_and %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.bitwise_or: input 0 must be an integer or i1, got f32
func.func @case15(%a: tensor<4xf32>) {
  %0 = rgraph.bitwise_or %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.div: parameter 'rounding_mode' must be one of ['', 'trunc', 'floor'], got 'round'
func.func @case16(%a: tensor<4xf32>) {
  %0 = rgraph.div %a, %a {rounding_mode = "round"} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.exp: input 0 must be a float, got i64
func.func @case17(%a: tensor<4xi64>) {
  %0 = rgraph.exp %a : tensor<4xi64> -> tensor<4xi64>
  func.return
}

// -----

// CHECK: rgraph.relu: result shape (5,) should be (4,)
func.func @case18(%a: tensor<4xf32>) {
  %0 = rgraph.relu %a : tensor<4xf32> -> tensor<5xf32>
  func.return
}

// -----

// CHECK: rgraph.abs: result dtype bf16 should be f32
func.func @case19(%a: tensor<4xf32>) {
  %0 = rgraph.abs %a : tensor<4xf32> -> tensor<4xbf16>
  func.return
}

// -----

// CHECK: rgraph.logical_not: input 0 must be i1, got f32
func.func @case20(%a: tensor<4xf32>) {
  %0 = rgraph.logical_not %a : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.isnan: result dtype f32 should be i1
func.func @case21(%a: tensor<4xf32>) {
  %0 = rgraph.isnan %a : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.cast: result shape (2, 2) should be (4,)
func.func @case22(%a: tensor<4xf32>) {
  %0 = rgraph.cast %a : tensor<4xf32> -> tensor<2x2xi64>
  func.return
}

// -----

// CHECK: rgraph.gelu: parameter 'approximate' must be one of ['none', 'tanh'], got 'fast'
func.func @case23(%a: tensor<4xf32>) {
  %0 = rgraph.gelu %a {approximate = "fast"} : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.where: input 0 must be i1 (the condition), got f32
func.func @case24(%c: tensor<4xf32>, %a: tensor<4xf32>) {
  %0 = rgraph.where %c, %a, %a : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.where: inputs have different dtypes ['f32', 'f16']
func.func @case25(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) {
  %0 = rgraph.where %c, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.sum: result shape (4,) should be (3, 1)
func.func @case26(%a: tensor<3x4xf32>) {
  %0 = rgraph.sum %a {dims = array<i64: 1>, keepdim = true} : tensor<3x4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.mean: dim 2 is out of range for rank 2
func.func @case27(%a: tensor<3x4xf32>) {
  %0 = rgraph.mean %a {dims = array<i64: 2>, keepdim = false} : tensor<3x4xf32> -> tensor<3xf32>
  func.return
}

// -----

// CHECK: rgraph.amax: dims [0, -2] repeat a dimension
func.func @case28(%a: tensor<3x4xf32>) {
  %0 = rgraph.amax %a {dims = array<i64: 0, -2>, keepdim = false} : tensor<3x4xf32> -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.prod: result dtype i64 should be f32
func.func @case29(%a: tensor<3x4xf32>) {
  %0 = rgraph.prod %a {dims = array<i64>, keepdim = false} : tensor<3x4xf32> -> tensor<i64>
  func.return
}

// -----

// CHECK: rgraph.argmax: result shape (2,) should be (2, 1)
func.func @case30(%a: tensor<2x3xf32>) {
  %0 = rgraph.argmax %a {dim = 1 : i64, keepdim = true} : tensor<2x3xf32> -> tensor<2xi64>
  func.return
}

// -----

// CHECK: rgraph.argmax: result dtype f32 should be i64
func.func @case31(%a: tensor<2x3xf32>) {
  %0 = rgraph.argmax %a {dim = 1 : i64, keepdim = false} : tensor<2x3xf32> -> tensor<2xf32>
  func.return
}

// -----

// CHECK: rgraph.argmax: result shape (2,) should be ()
func.func @case32(%a: tensor<2x3xf32>) {
  %0 = rgraph.argmax %a {keepdim = false} : tensor<2x3xf32> -> tensor<2xi64>
  func.return
}

// -----

// CHECK: rgraph.softmax: dim 2 is out of range for rank 2
func.func @case33(%a: tensor<2x3xf32>) {
  %0 = rgraph.softmax %a {dim = 2 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return
}

// -----

// CHECK: rgraph.log_softmax: input 0 must be a float, got i64
func.func @case34(%a: tensor<2x3xi64>) {
  %0 = rgraph.log_softmax %a {dim = 1 : i64} : tensor<2x3xi64> -> tensor<2x3xi64>
  func.return
}

// -----

// CHECK: rgraph.cumsum: result shape (3, 2) should be (2, 3)
func.func @case35(%a: tensor<2x3xf32>) {
  %0 = rgraph.cumsum %a {dim = 0 : i64} : tensor<2x3xf32> -> tensor<3x2xf32>
  func.return
}

// -----

// CHECK: rgraph.topk: k=6 is out of range for a dimension of size 5
func.func @case36(%a: tensor<3x5xf32>) {
  %0, %1 = rgraph.topk %a {k = 6 : i64, dim = 1 : i64, largest = true, sorted = true} : tensor<3x5xf32> -> tensor<3x6xf32>, tensor<3x6xi64>
  func.return
}

// -----

// CHECK: rgraph.topk: result #0 shape (3, 5) should be (3, 2)
func.func @case37(%a: tensor<3x5xf32>) {
  %0, %1 = rgraph.topk %a {k = 2 : i64, dim = 1 : i64, largest = true, sorted = true} : tensor<3x5xf32> -> tensor<3x5xf32>, tensor<3x2xi64>
  func.return
}

// -----

// CHECK: rgraph.topk: result #1 dtype i32 should be i64
func.func @case38(%a: tensor<3x5xf32>) {
  %0, %1 = rgraph.topk %a {k = 2 : i64, dim = 1 : i64, largest = true, sorted = true} : tensor<3x5xf32> -> tensor<3x2xf32>, tensor<3x2xi32>
  func.return
}

// -----

// CHECK: rgraph.matmul: operands must have rank >= 2, got (3,) and (3, 4)
func.func @case39(%a: tensor<3xf32>, %b: tensor<3x4xf32>) {
  %0 = rgraph.matmul %a, %b : (tensor<3xf32>, tensor<3x4xf32>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.matmul: contraction sizes differ (3 vs 4)
func.func @case40(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) {
  %0 = rgraph.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return
}

// -----

// CHECK: rgraph.matmul: result shape (2, 5) should be (7, 2, 5)
func.func @case41(%a: tensor<7x2x3xf32>, %b: tensor<3x5xf32>) {
  %0 = rgraph.matmul %a, %b : (tensor<7x2x3xf32>, tensor<3x5xf32>) -> tensor<2x5xf32>
  func.return
}

// -----

// CHECK: rgraph.matmul: inputs have different dtypes ['f32', 'bf16']
func.func @case42(%a: tensor<2x3xf32>, %b: tensor<3x5xbf16>) {
  %0 = rgraph.matmul %a, %b : (tensor<2x3xf32>, tensor<3x5xbf16>) -> tensor<2x5xf32>
  func.return
}

// -----

// CHECK: rgraph.linear: input (7, 8) does not fit weight (4, 9)
func.func @case43(%x: tensor<7x8xf32>, %w: tensor<4x9xf32>) {
  %0 = rgraph.linear %x, %w : (tensor<7x8xf32>, tensor<4x9xf32>) -> tensor<7x4xf32>
  func.return
}

// -----

// CHECK: rgraph.linear: bias (8,) is not (4,) (out_features)
func.func @case44(%x: tensor<7x8xf32>, %w: tensor<4x8xf32>, %b: tensor<8xf32>) {
  %0 = rgraph.linear %x, %w, %b : (tensor<7x8xf32>, tensor<4x8xf32>, tensor<8xf32>) -> tensor<7x4xf32>
  func.return
}

// -----

// CHECK: rgraph.linear: result shape (7, 8) should be (7, 4)
func.func @case45(%x: tensor<7x8xf32>, %w: tensor<4x8xf32>) {
  %0 = rgraph.linear %x, %w : (tensor<7x8xf32>, tensor<4x8xf32>) -> tensor<7x8xf32>
  func.return
}

// -----

// CHECK: rgraph.reshape: shape (5,) has 5 elements, the input (2, 3) has 6
func.func @case46(%a: tensor<2x3xf32>) {
  %0 = rgraph.reshape %a : tensor<2x3xf32> -> tensor<5xf32>
  func.return
}

// -----

// CHECK: rgraph.reshape: result dtype i32 should be f32
func.func @case47(%a: tensor<2x3xf32>) {
  %0 = rgraph.reshape %a : tensor<2x3xf32> -> tensor<6xi32>
  func.return
}

// -----

// CHECK: rgraph.expand: input (2, 3) does not broadcast to (2, 4)
func.func @case48(%a: tensor<2x3xf32>) {
  %0 = rgraph.expand %a : tensor<2x3xf32> -> tensor<2x4xf32>
  func.return
}

// -----

// CHECK: rgraph.permute: dims [0, 0] are not a permutation of rank 2
func.func @case49(%a: tensor<2x3xf32>) {
  %0 = rgraph.permute %a {dims = array<i64: 0, 0>} : tensor<2x3xf32> -> tensor<2x2xf32>
  func.return
}

// -----

// CHECK: rgraph.permute: result shape (2, 3) should be (3, 2)
func.func @case50(%a: tensor<2x3xf32>) {
  %0 = rgraph.permute %a {dims = array<i64: 1, 0>} : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return
}

// -----

// CHECK: rgraph.slice: bounds must be normalised (0 <= start <= end <= 4, step > 0), got start=3 end=2 step=1
func.func @case51(%a: tensor<4xf32>) {
  %0 = rgraph.slice %a {dim = 0 : i64, start = 3 : i64, end = 2 : i64, step = 1 : i64} : tensor<4xf32> -> tensor<0xf32>
  func.return
}

// -----

// CHECK: rgraph.slice: result shape (2, 2) should be (2, 3)
func.func @case52(%a: tensor<2x8xf32>) {
  %0 = rgraph.slice %a {dim = 1 : i64, start = 1 : i64, end = 8 : i64, step = 3 : i64} : tensor<2x8xf32> -> tensor<2x2xf32>
  func.return
}

// -----

// CHECK: rgraph.slice: cannot slice a rank-0 tensor
func.func @case53(%a: tensor<f32>) {
  %0 = rgraph.slice %a {dim = 0 : i64, start = 0 : i64, end = 1 : i64, step = 1 : i64} : tensor<f32> -> tensor<f32>
  func.return
}

// -----

// CHECK: rgraph.concat takes at least 1 input, got 0
func.func @case54() {
  %0 = rgraph.concat {dim = 0 : i64} : () -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.concat: inputs [(2, 3), (3, 1)] differ outside dim 1
func.func @case55(%a: tensor<2x3xf32>, %b: tensor<3x1xf32>) {
  %0 = rgraph.concat %a, %b {dim = 1 : i64} : (tensor<2x3xf32>, tensor<3x1xf32>) -> tensor<2x4xf32>
  func.return
}

// -----

// CHECK: rgraph.concat: inputs have different dtypes ['f32', 'i64']
func.func @case56(%a: tensor<2xf32>, %b: tensor<2xi64>) {
  %0 = rgraph.concat %a, %b {dim = 0 : i64} : (tensor<2xf32>, tensor<2xi64>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.concat: result shape (4, 3) should be (2, 6)
func.func @case57(%a: tensor<2x3xf32>) {
  %0 = rgraph.concat %a, %a {dim = -1 : i64} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<4x3xf32>
  func.return
}

// -----

// CHECK: rgraph.triu: result shape (3, 2) should be (2, 3)
func.func @case58(%a: tensor<2x3xf32>) {
  %0 = rgraph.triu %a {diagonal = 0 : i64} : tensor<2x3xf32> -> tensor<3x2xf32>
  func.return
}

// -----

// CHECK: rgraph.tril: input must have rank >= 2, got (3,)
func.func @case59(%a: tensor<3xf32>) {
  %0 = rgraph.tril %a {diagonal = 0 : i64} : tensor<3xf32> -> tensor<3xf32>
  func.return
}

// -----

// CHECK: rgraph.gather: index rank 1 differs from input rank 2
func.func @case60(%a: tensor<3x5xf32>, %i: tensor<4xi64>) {
  %0 = rgraph.gather %a, %i {dim = 1 : i64} : (tensor<3x5xf32>, tensor<4xi64>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.gather: index (4, 4) is larger than input (3, 5) outside dim 1
func.func @case61(%a: tensor<3x5xf32>, %i: tensor<4x4xi64>) {
  %0 = rgraph.gather %a, %i {dim = 1 : i64} : (tensor<3x5xf32>, tensor<4x4xi64>) -> tensor<4x4xf32>
  func.return
}

// -----

// CHECK: rgraph.gather: input 1 must be i64 or i32 (indices), got f32
func.func @case62(%a: tensor<3x5xf32>, %i: tensor<3x5xf32>) {
  %0 = rgraph.gather %a, %i {dim = 1 : i64} : (tensor<3x5xf32>, tensor<3x5xf32>) -> tensor<3x5xf32>
  func.return
}

// -----

// CHECK: rgraph.gather: result shape (2, 3) should be (2, 2)
func.func @case63(%a: tensor<3x5xf32>, %i: tensor<2x2xi64>) {
  %0 = rgraph.gather %a, %i {dim = 1 : i64} : (tensor<3x5xf32>, tensor<2x2xi64>) -> tensor<2x3xf32>
  func.return
}

// -----

// CHECK: rgraph.index_select: index must be 1-D, got (2, 2)
func.func @case64(%w: tensor<10x3xf32>, %i: tensor<2x2xi64>) {
  %0 = rgraph.index_select %w, %i {dim = 0 : i64} : (tensor<10x3xf32>, tensor<2x2xi64>) -> tensor<4x3xf32>
  func.return
}

// -----

// CHECK: rgraph.index_select: result shape (4, 3) should be (10, 4)
func.func @case65(%w: tensor<10x3xf32>, %i: tensor<4xi64>) {
  %0 = rgraph.index_select %w, %i {dim = 1 : i64} : (tensor<10x3xf32>, tensor<4xi64>) -> tensor<4x3xf32>
  func.return
}

// -----

// CHECK: rgraph.embedding: weight must be 2-D, got (10,)
func.func @case66(%w: tensor<10xf32>, %i: tensor<4xi64>) {
  %0 = rgraph.embedding %w, %i : (tensor<10xf32>, tensor<4xi64>) -> tensor<4xf32>
  func.return
}

// -----

// CHECK: rgraph.embedding: result shape (2, 3) should be (2, 5, 3)
func.func @case67(%w: tensor<10x3xf32>, %i: tensor<2x5xi64>) {
  %0 = rgraph.embedding %w, %i : (tensor<10x3xf32>, tensor<2x5xi64>) -> tensor<2x3xf32>
  func.return
}

// -----

// CHECK: rgraph.embedding: input 1 must be i64 or i32 (indices), got i16
func.func @case68(%w: tensor<10x3xf32>, %i: tensor<2xi16>) {
  %0 = rgraph.embedding %w, %i : (tensor<10x3xf32>, tensor<2xi16>) -> tensor<2x3xf32>
  func.return
}

// -----

// CHECK: rgraph.index takes at least 2 inputs, got 1
func.func @case69(%a: tensor<2x3xf32>) {
  %0 = "rgraph.index"(%a) <{indexed_dims = array<i64>}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return
}

// -----

// CHECK: rgraph.index: 1 index tensors for indexed_dims [0, 1]
func.func @case70(%a: tensor<2x3xf32>, %i: tensor<5xi64>) {
  %0 = rgraph.index %a[%i] {indexed_dims = array<i64: 0, 1>} : (tensor<2x3xf32>, tensor<5xi64>) -> tensor<5xf32>
  func.return
}

// -----

// CHECK: rgraph.index: indexed_dims [1, 0] must be increasing and within rank 2
func.func @case71(%a: tensor<2x3xf32>, %i: tensor<5xi64>) {
  %0 = rgraph.index %a[%i, %i] {indexed_dims = array<i64: 1, 0>} : (tensor<2x3xf32>, tensor<5xi64>, tensor<5xi64>) -> tensor<5xf32>
  func.return
}

// -----

// CHECK: rgraph.index: shapes [(2,), (3,)] do not broadcast
func.func @case72(%a: tensor<2x3xf32>, %i: tensor<2xi64>, %j: tensor<3xi64>) {
  %0 = rgraph.index %a[%i, %j] {indexed_dims = array<i64: 0, 1>} : (tensor<2x3xf32>, tensor<2xi64>, tensor<3xi64>) -> tensor<2xf32>
  func.return
}

// -----

// CHECK: rgraph.index: result shape (3, 5) should be (5, 3)
func.func @case73(%a: tensor<2x3x4xf32>, %i: tensor<5xi64>) {
  %0 = rgraph.index %a[%i, %i] {indexed_dims = array<i64: 0, 2>} : (tensor<2x3x4xf32>, tensor<5xi64>, tensor<5xi64>) -> tensor<3x5xf32>
  func.return
}

// -----

// CHECK: rgraph.index: input 1 must be i64 or i32 (indices), got f32
func.func @case74(%a: tensor<2x3xf32>, %i: tensor<5xf32>) {
  %0 = rgraph.index %a[%i] {indexed_dims = array<i64: 0>} : (tensor<2x3xf32>, tensor<5xf32>) -> tensor<5x3xf32>
  func.return
}

// -----

// CHECK: rgraph.full: value 0.5 is a float, the result is i64
func.func @case75() {
  %0 = rgraph.full {value = 5.000000e-01 : f64} : tensor<2xi64>
  func.return
}

// -----

// CHECK: rgraph.full: value 2 does not fit i1
func.func @case76() {
  %0 = rgraph.full {value = 2 : i64} : tensor<i1>
  func.return
}

// -----

// CHECK: rgraph.arange: result shape (4,) should be (5,)
func.func @case77() {
  %0 = rgraph.arange {start = 0 : i64, end = 5 : i64, step = 1 : i64} : tensor<4xi64>
  func.return
}

// -----

// CHECK: rgraph.arange: step must not be 0
func.func @case78() {
  %0 = rgraph.arange {start = 0 : i64, end = 5 : i64, step = 0 : i64} : tensor<4xi64>
  func.return
}

// -----

// CHECK: rgraph.arange: result dtype i1 is not numeric
func.func @case79() {
  %0 = rgraph.arange {start = 0 : i64, end = 2 : i64, step = 1 : i64} : tensor<2xi1>
  func.return
}

// -----

// CHECK: rgraph.weight: value has type tensor<4xf32>, the result tensor<2xf32>
func.func @case80() {
  %0 = rgraph.weight "w" {value = dense_resource<w_blob> : tensor<4xf32>} : tensor<2xf32>
  func.return
}

// -----

// CHECK: rgraph.im2col: input must be (N, C, L), (N, C, H, W) or (N, C, D, H, W), got (2, 4)
func.func @case81(%a: tensor<2x4xf32>) {
  %0 = rgraph.im2col %a {kernel = array<i64: 1>, stride = array<i64: 1>, padding = array<i64: 0>, dilation = array<i64: 1>, groups = 1 : i64, pad_with = "zero"} : tensor<2x4xf32> -> tensor<2x1x4x1xf32>
  func.return
}

// -----

// CHECK: rgraph.im2col: stride [1] must have 2 entries (one per spatial dim)
func.func @case82(%a: tensor<1x2x4x4xf32>) {
  %0 = rgraph.im2col %a {kernel = array<i64: 3, 3>, stride = array<i64: 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x18x4xf32>
  func.return
}

// -----

// CHECK: rgraph.im2col: groups=3 does not divide 2 channels
func.func @case83(%a: tensor<1x2x4x4xf32>) {
  %0 = rgraph.im2col %a {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 3 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x18x4xf32>
  func.return
}

// -----

// CHECK: rgraph.im2col: kernel [5, 5] (dilation [1, 1]) does not fit input (1, 2, 4, 4) padded by [0, 0]
func.func @case84(%a: tensor<1x2x4x4xf32>) {
  %0 = rgraph.im2col %a {kernel = array<i64: 5, 5>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x50x1xf32>
  func.return
}

// -----

// CHECK: rgraph.im2col: result shape (1, 1, 18, 4) should be (1, 1, 18, 16)
func.func @case85(%a: tensor<1x2x4x4xf32>) {
  %0 = rgraph.im2col %a {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "zero"} : tensor<1x2x4x4xf32> -> tensor<1x1x18x4xf32>
  func.return
}

// -----

// CHECK: rgraph.im2col: parameter 'pad_with' must be one of ['zero', 'lowest'], got 'edge'
func.func @case86(%a: tensor<1x2x4x4xf32>) {
  %0 = rgraph.im2col %a {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 1 : i64, pad_with = "edge"} : tensor<1x2x4x4xf32> -> tensor<1x1x18x16xf32>
  func.return
}

// -----

// CHECK: rgraph.batch_norm: running var (3,) is not (4,) (channels)
func.func @case87(%a: tensor<1x4x2x2xf32>, %c: tensor<4xf32>, %d: tensor<3xf32>) {
  %0 = rgraph.batch_norm %a, %c, %c, %c, %d {eps = 1.000000e-05 : f64} : (tensor<1x4x2x2xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3xf32>) -> tensor<1x4x2x2xf32>
  func.return
}

// -----

// CHECK: rgraph.batch_norm: input 0 must be a float, got i64
func.func @case88(%a: tensor<1x4xi64>, %c: tensor<4xi64>) {
  %0 = rgraph.batch_norm %a, %c, %c, %c, %c {eps = 1.000000e-05 : f64} : (tensor<1x4xi64>, tensor<4xi64>, tensor<4xi64>, tensor<4xi64>, tensor<4xi64>) -> tensor<1x4xi64>
  func.return
}

// -----

// CHECK: rgraph.sort: result #1 dtype i32 should be i64
func.func @case89(%a: tensor<2x4xf32>) {
  %0, %1 = rgraph.sort %a {dim = 1 : i64, descending = false, stable = true} : tensor<2x4xf32> -> tensor<2x4xf32>, tensor<2x4xi32>
  func.return
}

// -----

// CHECK: rgraph.sort: dim 2 is out of range for rank 2
func.func @case90(%a: tensor<2x4xf32>) {
  %0, %1 = rgraph.sort %a {dim = 2 : i64, descending = false, stable = true} : tensor<2x4xf32> -> tensor<2x4xf32>, tensor<2x4xi64>
  func.return
}

// -----

// CHECK: rgraph.slice_scatter: src (2, 3) is not the slice's shape (2, 2)
func.func @case91(%a: tensor<2x4xf32>, %b: tensor<2x3xf32>) {
  %0 = rgraph.slice_scatter %a, %b {dim = 1 : i64, start = 0 : i64, end = 4 : i64, step = 2 : i64} : (tensor<2x4xf32>, tensor<2x3xf32>) -> tensor<2x4xf32>
  func.return
}

// -----

// CHECK: rgraph.index_put: values (5,) do not broadcast to the indexed shape (3, 4)
func.func @case92(%a: tensor<10x4xf32>, %b: tensor<5xf32>, %i: tensor<3xi64>) {
  %0 = rgraph.index_put %a[%i], %b {indexed_dims = array<i64: 0>, accumulate = false} : (tensor<10x4xf32>, tensor<5xf32>, tensor<3xi64>) -> tensor<10x4xf32>
  func.return
}

// -----

// CHECK: rgraph.scatter: index (3, 4) is larger than src (2, 4)
func.func @case93(%a: tensor<5x4xf32>, %b: tensor<2x4xf32>, %i: tensor<3x4xi64>) {
  %0 = rgraph.scatter %a, %i, %b {dim = 0 : i64, reduce = "none"} : (tensor<5x4xf32>, tensor<3x4xi64>, tensor<2x4xf32>) -> tensor<5x4xf32>
  func.return
}

// -----

// CHECK: rgraph.scatter: parameter 'reduce' must be one of ['none', 'add'], got 'max'
func.func @case94(%a: tensor<5x4xf32>, %b: tensor<3x4xf32>, %i: tensor<3x4xi64>) {
  %0 = rgraph.scatter %a, %i, %b {dim = 0 : i64, reduce = "max"} : (tensor<5x4xf32>, tensor<3x4xi64>, tensor<3x4xf32>) -> tensor<5x4xf32>
  func.return
}

// -----

// CHECK: rgraph.math: parameter 'fn' must be one of ['log1p', 'expm1', 'log2', 'log10', 'exp2', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tan', 'asinh', 'acosh', 'atanh', 'trunc', 'round', 'sign'], got 'bessel_j0'
func.func @case95(%a: tensor<3xf32>) {
  %0 = rgraph.math %a {fn = "bessel_j0"} : tensor<3xf32> -> tensor<3xf32>
  func.return
}
