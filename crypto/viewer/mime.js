/* mime.js - placeholder */
