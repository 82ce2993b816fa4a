const _ = require('lodash');
console.log(_.capitalize('demo shop'));
