// RUN: rducc opt %s | rducc opt - | filecheck %s
// RUN: rducc opt %s --print-op-generic | rducc opt - | filecheck %s
// Every rgraph op, printed and parsed back (tests/dialects/test_rgraph_ops.py also checks that the
// printed text is a fixed point, that the generic form round-trips, and that no op is missing).

func.func @every_op(%x: tensor<2x4xf32>, %y: tensor<4xf32>, %b: tensor<2x4xi1>, %n: tensor<2x4xi64>, %ids: tensor<3xi64>, %bias: tensor<10xf32>, %y2: tensor<2x2xf32>) -> tensor<2x4xf32> {
  %w = rgraph.weight "emb" : tensor<10x4xf32>
  %neg = rgraph.neg %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %abs = rgraph.abs %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %exp = rgraph.exp %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %log = rgraph.log %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %sqrt = rgraph.sqrt %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %rsqrt = rgraph.rsqrt %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %recip = rgraph.reciprocal %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %tanh = rgraph.tanh %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %sigmoid = rgraph.sigmoid %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %relu = rgraph.relu %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %silu = rgraph.silu %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %sin = rgraph.sin %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %cos = rgraph.cos %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %erf = rgraph.erf %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %floor = rgraph.floor %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %ceil = rgraph.ceil %x : tensor<2x4xf32> -> tensor<2x4xf32>
  %not = rgraph.logical_not %b : tensor<2x4xi1> -> tensor<2x4xi1>
  %bnot = rgraph.bitwise_not %n : tensor<2x4xi64> -> tensor<2x4xi64>
  %isnan = rgraph.isnan %x : tensor<2x4xf32> -> tensor<2x4xi1>
  %cast = rgraph.cast %n : tensor<2x4xi64> -> tensor<2x4xf32>
  %gelu = rgraph.gelu %x {approximate = "tanh"} : tensor<2x4xf32> -> tensor<2x4xf32>
  %add = rgraph.add %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %sub = rgraph.sub %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %mul = rgraph.mul %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %div = rgraph.div %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %divf = rgraph.div %x, %y {rounding_mode = "floor"} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %pow = rgraph.pow %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %max = rgraph.maximum %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %min = rgraph.minimum %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %rem = rgraph.remainder %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %fdiv = rgraph.floor_divide %n, %n : (tensor<2x4xi64>, tensor<2x4xi64>) -> tensor<2x4xi64>
  %and = rgraph.logical_and %b, %b : (tensor<2x4xi1>, tensor<2x4xi1>) -> tensor<2x4xi1>
  %or = rgraph.logical_or %b, %b : (tensor<2x4xi1>, tensor<2x4xi1>) -> tensor<2x4xi1>
  %band = rgraph.bitwise_and %n, %n : (tensor<2x4xi64>, tensor<2x4xi64>) -> tensor<2x4xi64>
  %bor = rgraph.bitwise_or %n, %n : (tensor<2x4xi64>, tensor<2x4xi64>) -> tensor<2x4xi64>
  %bxor = rgraph.bitwise_xor %n, %n : (tensor<2x4xi64>, tensor<2x4xi64>) -> tensor<2x4xi64>
  %eq = rgraph.eq %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  %ne = rgraph.ne %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  %lt = rgraph.lt %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  %le = rgraph.le %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  %gt = rgraph.gt %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  %ge = rgraph.ge %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  %where = rgraph.where %b, %x, %y : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %sum = rgraph.sum %x {dims = array<i64: 1>, keepdim = true} : tensor<2x4xf32> -> tensor<2x1xf32>
  %mean = rgraph.mean %x {dims = array<i64: -1>, keepdim = false} : tensor<2x4xf32> -> tensor<2xf32>
  %amax = rgraph.amax %x {dims = array<i64>, keepdim = false} : tensor<2x4xf32> -> tensor<f32>
  %amin = rgraph.amin %x {dims = array<i64: 0>, keepdim = false} : tensor<2x4xf32> -> tensor<4xf32>
  %prod = rgraph.prod %x {dims = array<i64: 0, 1>, keepdim = true} : tensor<2x4xf32> -> tensor<1x1xf32>
  %argmax = rgraph.argmax %x {dim = 1 : i64, keepdim = false} : tensor<2x4xf32> -> tensor<2xi64>
  %argmax_all = rgraph.argmax %x {keepdim = false} : tensor<2x4xf32> -> tensor<i64>
  %softmax = rgraph.softmax %x {dim = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %logsoftmax = rgraph.log_softmax %x {dim = 0 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %cumsum = rgraph.cumsum %n {dim = 1 : i64} : tensor<2x4xi64> -> tensor<2x4xi64>
  %vals, %idx = rgraph.topk %x {k = 2 : i64, dim = 1 : i64, largest = true, sorted = false} : tensor<2x4xf32> -> tensor<2x2xf32>, tensor<2x2xi64>
  %xt = rgraph.permute %x {dims = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
  %mm = rgraph.matmul %x, %xt : (tensor<2x4xf32>, tensor<4x2xf32>) -> tensor<2x2xf32>
  %lin = rgraph.linear %x, %w : (tensor<2x4xf32>, tensor<10x4xf32>) -> tensor<2x10xf32>
  %linb = rgraph.linear %x, %w, %bias : (tensor<2x4xf32>, tensor<10x4xf32>, tensor<10xf32>) -> tensor<2x10xf32>
  %reshape = rgraph.reshape %x : tensor<2x4xf32> -> tensor<8xf32>
  %expand = rgraph.expand %y : tensor<4xf32> -> tensor<3x4xf32>
  %slice = rgraph.slice %x {dim = 1 : i64, start = 1 : i64, end = 4 : i64, step = 2 : i64} : tensor<2x4xf32> -> tensor<2x2xf32>
  %concat = rgraph.concat %x, %x {dim = 0 : i64} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
  %gather = rgraph.gather %x, %n {dim = 1 : i64} : (tensor<2x4xf32>, tensor<2x4xi64>) -> tensor<2x4xf32>
  %select = rgraph.index_select %w, %ids {dim = 0 : i64} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %emb = rgraph.embedding %w, %ids : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %index = rgraph.index %w[%ids] {indexed_dims = array<i64: 0>} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  %triu = rgraph.triu %x {diagonal = 1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %tril = rgraph.tril %x {diagonal = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %img = rgraph.full {value = 1.000000e+00 : f64} : tensor<1x4x6x6xf32>
  %cols = rgraph.im2col %img {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 2 : i64, pad_with = "lowest"} : tensor<1x4x6x6xf32> -> tensor<1x2x18x9xf32>
  %bn = rgraph.batch_norm %img, %y, %y, %y, %y {eps = 1.000000e-05 : f64} : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
  %sorted, %order = rgraph.sort %x {dim = 1 : i64, descending = true, stable = true} : tensor<2x4xf32> -> tensor<2x4xf32>, tensor<2x4xi64>
  %sscat = rgraph.slice_scatter %x, %y2 {dim = 1 : i64, start = 0 : i64, end = 4 : i64, step = 2 : i64} : (tensor<2x4xf32>, tensor<2x2xf32>) -> tensor<2x4xf32>
  %iput = rgraph.index_put %w[%ids], %y {indexed_dims = array<i64: 0>, accumulate = true} : (tensor<10x4xf32>, tensor<4xf32>, tensor<3xi64>) -> tensor<10x4xf32>
  %scat = rgraph.scatter %x, %n, %x {dim = 1 : i64, reduce = "add"} : (tensor<2x4xf32>, tensor<2x4xi64>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %math = rgraph.math %x {fn = "log1p"} : tensor<2x4xf32> -> tensor<2x4xf32>
  %full = rgraph.full {value = 5.000000e-01 : f64} : tensor<2x4xf32>
  %fulli = rgraph.full {value = 1 : i64} : tensor<i1>
  %arange = rgraph.arange {start = 0 : i64, end = 8 : i64, step = 3 : i64} : tensor<3xi64>
  %arangef = rgraph.arange {start = 0.000000e+00 : f64, end = 1.000000e+00 : f64, step = 2.500000e-01 : f64} : tensor<4xf32>
  %allred = rgraph.all_reduce %x {sockets = 2 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
  %allgat = rgraph.all_gather %x {sockets = 2 : i64, dim = 1 : i64} : tensor<2x4xf32> -> tensor<2x8xf32>
  %redsca = rgraph.reduce_scatter %x {sockets = 2 : i64, dim = 0 : i64} : tensor<2x4xf32> -> tensor<1x4xf32>
  %cache = rgraph.weight "cache" {mutable} : tensor<2x6x4xf32>
  %rows = rgraph.full {value = 1.000000e+00 : f64} : tensor<2x3x4xf32>
  rgraph.update_rows %cache[%ids], %rows {dim = 1 : i64} : (tensor<2x6x4xf32>, tensor<3xi64>, tensor<2x3x4xf32>)
  func.return %x : tensor<2x4xf32>
}

// CHECK:      %w = rgraph.weight "emb" : tensor<10x4xf32>
// CHECK-NEXT: %neg = rgraph.neg %x : tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK:      %bnot = rgraph.bitwise_not %n : tensor<2x4xi64> -> tensor<2x4xi64>
// CHECK-NEXT: %isnan = rgraph.isnan %x : tensor<2x4xf32> -> tensor<2x4xi1>
// CHECK-NEXT: %cast = rgraph.cast %n : tensor<2x4xi64> -> tensor<2x4xf32>
// CHECK-NEXT: %gelu = rgraph.gelu %x {approximate = "tanh"} : tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: %add = rgraph.add %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK:      %div = rgraph.div %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %divf = rgraph.div %x, %y {rounding_mode = "floor"} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK:      %ge = rgraph.ge %x, %y : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
// CHECK-NEXT: %where = rgraph.where %b, %x, %y : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %sum = rgraph.sum %x {dims = array<i64: 1>, keepdim = true} : tensor<2x4xf32> -> tensor<2x1xf32>
// CHECK:      %amax = rgraph.amax %x {dims = array<i64>, keepdim = false} : tensor<2x4xf32> -> tensor<f32>
// CHECK:      %argmax = rgraph.argmax %x {dim = 1 : i64, keepdim = false} : tensor<2x4xf32> -> tensor<2xi64>
// CHECK-NEXT: %argmax_all = rgraph.argmax %x {keepdim = false} : tensor<2x4xf32> -> tensor<i64>
// CHECK:      %vals, %idx = rgraph.topk %x {k = 2 : i64, dim = 1 : i64, largest = true, sorted = false} : tensor<2x4xf32> -> tensor<2x2xf32>, tensor<2x2xi64>
// CHECK-NEXT: %xt = rgraph.permute %x {dims = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
// CHECK-NEXT: %mm = rgraph.matmul %x, %xt : (tensor<2x4xf32>, tensor<4x2xf32>) -> tensor<2x2xf32>
// CHECK-NEXT: %lin = rgraph.linear %x, %w : (tensor<2x4xf32>, tensor<10x4xf32>) -> tensor<2x10xf32>
// CHECK-NEXT: %linb = rgraph.linear %x, %w, %bias : (tensor<2x4xf32>, tensor<10x4xf32>, tensor<10xf32>) -> tensor<2x10xf32>
// CHECK-NEXT: %reshape = rgraph.reshape %x : tensor<2x4xf32> -> tensor<8xf32>
// CHECK-NEXT: %expand = rgraph.expand %y : tensor<4xf32> -> tensor<3x4xf32>
// CHECK-NEXT: %slice = rgraph.slice %x {dim = 1 : i64, start = 1 : i64, end = 4 : i64, step = 2 : i64} : tensor<2x4xf32> -> tensor<2x2xf32>
// CHECK-NEXT: %concat = rgraph.concat %x, %x {dim = 0 : i64} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
// CHECK-NEXT: %gather = rgraph.gather %x, %n {dim = 1 : i64} : (tensor<2x4xf32>, tensor<2x4xi64>) -> tensor<2x4xf32>
// CHECK-NEXT: %select = rgraph.index_select %w, %ids {dim = 0 : i64} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
// CHECK-NEXT: %emb = rgraph.embedding %w, %ids : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
// CHECK-NEXT: %index = rgraph.index %w[%ids] {indexed_dims = array<i64: 0>} : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
// CHECK-NEXT: %triu = rgraph.triu %x {diagonal = 1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: %tril = rgraph.tril %x {diagonal = -1 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: %img = rgraph.full {value = 1.000000e+00 : f64} : tensor<1x4x6x6xf32>
// CHECK-NEXT: %cols = rgraph.im2col %img {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1>, dilation = array<i64: 1, 1>, groups = 2 : i64, pad_with = "lowest"} : tensor<1x4x6x6xf32> -> tensor<1x2x18x9xf32>
// CHECK-NEXT: %bn = rgraph.batch_norm %img, %y, %y, %y, %y {eps = 1.000000e-05 : f64} : (tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x6x6xf32>
// CHECK-NEXT: %sorted, %order = rgraph.sort %x {dim = 1 : i64, descending = true, stable = true} : tensor<2x4xf32> -> tensor<2x4xf32>, tensor<2x4xi64>
// CHECK-NEXT: %sscat = rgraph.slice_scatter %x, %y2 {dim = 1 : i64, start = 0 : i64, end = 4 : i64, step = 2 : i64} : (tensor<2x4xf32>, tensor<2x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %iput = rgraph.index_put %w[%ids], %y {indexed_dims = array<i64: 0>, accumulate = true} : (tensor<10x4xf32>, tensor<4xf32>, tensor<3xi64>) -> tensor<10x4xf32>
// CHECK-NEXT: %scat = rgraph.scatter %x, %n, %x {dim = 1 : i64, reduce = "add"} : (tensor<2x4xf32>, tensor<2x4xi64>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %math = rgraph.math %x {fn = "log1p"} : tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: %full = rgraph.full {value = 5.000000e-01 : f64} : tensor<2x4xf32>
// CHECK-NEXT: %fulli = rgraph.full {value = 1 : i64} : tensor<i1>
// CHECK-NEXT: %arange = rgraph.arange {start = 0 : i64, end = 8 : i64, step = 3 : i64} : tensor<3xi64>
// CHECK-NEXT: %arangef = rgraph.arange {start = 0.000000e+00 : f64, end = 1.000000e+00 : f64, step = 2.500000e-01 : f64} : tensor<4xf32>
// CHECK-NEXT: %allred = rgraph.all_reduce %x {sockets = 2 : i64} : tensor<2x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: %allgat = rgraph.all_gather %x {sockets = 2 : i64, dim = 1 : i64} : tensor<2x4xf32> -> tensor<2x8xf32>
// CHECK-NEXT: %redsca = rgraph.reduce_scatter %x {sockets = 2 : i64, dim = 0 : i64} : tensor<2x4xf32> -> tensor<1x4xf32>
// CHECK-NEXT: %cache = rgraph.weight "cache" {mutable} : tensor<2x6x4xf32>
// CHECK-NEXT: %rows = rgraph.full {value = 1.000000e+00 : f64} : tensor<2x3x4xf32>
// CHECK-NEXT: rgraph.update_rows %cache[%ids], %rows {dim = 1 : i64} : (tensor<2x6x4xf32>, tensor<3xi64>, tensor<2x3x4xf32>)
