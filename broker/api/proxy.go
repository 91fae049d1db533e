package api

import "github.com/gin-gonic/gin"

func registerProxy(r gin.IRouter, d Deps) {}
