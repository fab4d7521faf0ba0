// `fast-gateway`: Node's fast-gateway as a reference proxy (keep-alive agent to the upstream, no middlewares).
//   FASTGW_UPSTREAM=http://127.0.0.1:18080 node bench/fastgw/gateway.js 18084
'use strict'
const gateway = require('fast-gateway')

const upstream = process.env.FASTGW_UPSTREAM || 'http://127.0.0.1:18080'
const port = Number(process.argv[2] || 18084)

gateway({ routes: [{ prefix: '', target: upstream }] }).start(port, '127.0.0.1')
