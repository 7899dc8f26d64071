/* envelope.js - placeholder */
